"""Customer-facing message templates, per language (falls back to English).

Times are rendered as HH:MM UTC; a deployment with local zones formats them at
the edge (the record also carries the epoch seconds).

>>> render("window_at_risk", "de", "o1", 36000.0, 37800.0)
('de', 'Ihre Lieferung o1 verspätet sich: neue Ankunft gegen 10:00 (Zeitfenster bis 10:30).')
>>> render("eta_changed", "xx", "o1", 36000.0, 37800.0)[0]
'en'
"""

from __future__ import annotations

TEMPLATES = {
    "en": {"window_at_risk": "Your delivery {order} is running late: new arrival around {eta} "
                             "(window until {end}).",
           "eta_changed": "Update for delivery {order}: now expected around {eta}."},
    "de": {"window_at_risk": "Ihre Lieferung {order} verspätet sich: neue Ankunft gegen {eta} "
                             "(Zeitfenster bis {end}).",
           "eta_changed": "Neuigkeiten zu Lieferung {order}: jetzt erwartet gegen {eta}."},
    "es": {"window_at_risk": "Su entrega {order} va con retraso: nueva llegada hacia las {eta} "
                             "(franja hasta las {end}).",
           "eta_changed": "Novedad de la entrega {order}: ahora prevista hacia las {eta}."},
    "fr": {"window_at_risk": "Votre livraison {order} est en retard : arrivée prévue vers {eta} "
                             "(créneau jusqu'à {end}).",
           "eta_changed": "Livraison {order} : désormais prévue vers {eta}."},
    "pl": {"window_at_risk": "Twoja dostawa {order} jest opóźniona: nowy przyjazd około {eta} "
                             "(okno do {end}).",
           "eta_changed": "Dostawa {order}: teraz przewidywana około {eta}."},
    "tr": {"window_at_risk": "{order} numaralı teslimatınız gecikiyor: yeni varış yaklaşık {eta} "
                             "(zaman aralığı {end} kadar).",
           "eta_changed": "{order} teslimatı: şimdi yaklaşık {eta} bekleniyor."},
}


def _hhmm(ts: float) -> str:
    s = int(ts) % 86400
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


def render(kind: str, language: str, order_id: str, eta: float, window_end: float) -> tuple[str, str]:
    """(language used, text) for a notification ``kind``."""
    lang = language.split("-")[0].lower()
    if lang not in TEMPLATES:
        lang = "en"
    text = TEMPLATES[lang][kind].format(order=order_id, eta=_hhmm(eta), end=_hhmm(window_end))
    return lang, text
