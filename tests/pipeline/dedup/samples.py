"""Texts of some length in several scripts, shared by the dedup tests."""

from __future__ import annotations

ENGLISH = (
    "Researchers at the university have discovered a new method for recycling plastic waste "
    "into fuel using a cheap catalyst made from iron and clay. The process works at room "
    "temperature and could be deployed in small towns within five years, according to the team."
)
RUSSIAN = (
    "Учёные из Новосибирска разработали новый способ очистки воды от микропластика с помощью "
    "магнитных наночастиц. Метод уже испытали на реке Обь, и результаты превзошли ожидания "
    "исследователей, сообщает пресс-служба института."
)
CHINESE = (
    "科学家们发现了一种利用廉价催化剂将塑料垃圾转化为燃料的新方法，该过程在室温下即可进行，"
    "预计五年内可以在小城镇推广使用。"
)
ARABIC = (
    "أعلن الباحثون في الجامعة عن طريقة جديدة لإعادة تدوير النفايات البلاستيكية وتحويلها إلى "
    "وقود باستخدام محفز رخيص مصنوع من الحديد والطين، ويمكن تطبيقها في المدن الصغيرة."
)
SPORTS = (
    "The home team won the championship final last night after a dramatic penalty shootout, "
    "with their young goalkeeper saving three shots in front of a sold-out stadium."
)
