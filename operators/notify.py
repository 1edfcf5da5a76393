"""Customer messages people can trust (docs/notifications.md).

Templates per language (falls back to English), rendered in the zone's local time
(``engine.timezone``, an IANA name, with its abbreviation: ``10:00 CET``), and the
policy that decides whether a message goes out (:class:`CustomerMessages`):

* an update (``eta_changed``, ``window_at_risk``) goes out at most once per
  ``notify_customer_interval_s`` per customer, unless the promised time moved more
  than ``notify_window_change_s``; at most ``notify_customer_max_per_day`` messages
  per customer per local day, one of them kept for a possible ``order_not_served``
  of each of the customer's open orders (so updates take at most max minus the open
  orders); none in the quiet hours (``notify_quiet_hours``: the
  latest one is held and sent when they end, if the order is still open);
* a message whose time differs from the last one told for the same order says so,
  and why ("later than the 10:05 in our last message, because ...");
* an at-risk message gives the interval (its 80 % upper bound, not the ETA twice);
* ``order_not_served`` (the order will not be delivered, with the reason) always
  goes out, outside the quiet hours.

>>> render("window_at_risk", "de", "o1", 36000.0, 37800.0, 36900.0)
('de', 'Ihre Lieferung o1 verspätet sich: neue Ankunft zwischen 10:00 und 10:15 UTC (Zeitfenster bis 10:30 UTC).')
>>> render("eta_changed", "xx", "o1", 36000.0, 37800.0)[0]
'en'
>>> render("eta_changed", "en", "o1", 36000.0, 37800.0, tz="Europe/Berlin")[1]
'Update for delivery o1: now expected around 11:00 CET.'
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from fleetstream.operators.localtime import zone_info

TEMPLATES: dict[str, dict[str, str]] = {
    "en": {"window_at_risk": "Your delivery {order} is running late: new arrival between {eta} "
                             "and {hi} (window until {end}).",
           "eta_changed": "Update for delivery {order}: now expected around {eta}.",
           "order_not_served": "We are sorry: your delivery {order} will not arrive in its "
                               "window (until {end}): {reason}. We will contact you to "
                               "arrange a new delivery.",
           "later": " This is later than the {prev} in our last message, because {why}.",
           "earlier": " This is earlier than the {prev} in our last message, because {why}.",
           "why_later": "of delays on the route", "why_earlier": "the route was re-planned",
           "not_delivered": "it was not delivered by the end of its window",
           "no_vehicle": "no vehicle could reach you within the window"},
    "de": {"window_at_risk": "Ihre Lieferung {order} verspätet sich: neue Ankunft zwischen {eta} "
                             "und {hi} (Zeitfenster bis {end}).",
           "eta_changed": "Neuigkeiten zu Lieferung {order}: jetzt erwartet gegen {eta}.",
           "order_not_served": "Es tut uns leid: Ihre Lieferung {order} kommt nicht in ihrem "
                               "Zeitfenster (bis {end}): {reason}. Wir melden uns für einen "
                               "neuen Termin.",
           "later": " Das ist später als die {prev} aus unserer letzten Nachricht, weil {why}.",
           "earlier": " Das ist früher als die {prev} aus unserer letzten Nachricht, weil {why}.",
           "why_later": "es auf der Route Verzögerungen gibt",
           "why_earlier": "die Route neu geplant wurde",
           "not_delivered": "sie wurde bis zum Ende des Zeitfensters nicht zugestellt",
           "no_vehicle": "kein Fahrzeug konnte Sie im Zeitfenster erreichen"},
    "es": {"window_at_risk": "Su entrega {order} va con retraso: nueva llegada entre las {eta} "
                             "y las {hi} (franja hasta las {end}).",
           "eta_changed": "Novedad de la entrega {order}: ahora prevista hacia las {eta}.",
           "order_not_served": "Lo sentimos: su entrega {order} no llegará en su franja "
                               "(hasta las {end}): {reason}. Le contactaremos para una nueva "
                               "entrega.",
           "later": " Es más tarde que las {prev} de nuestro último mensaje, porque {why}.",
           "earlier": " Es antes que las {prev} de nuestro último mensaje, porque {why}.",
           "why_later": "hay retrasos en la ruta", "why_earlier": "se replanificó la ruta",
           "not_delivered": "no se entregó antes del fin de la franja",
           "no_vehicle": "ningún vehículo podía llegar dentro de la franja"},
    "fr": {"window_at_risk": "Votre livraison {order} est en retard : arrivée prévue entre {eta} "
                             "et {hi} (créneau jusqu'à {end}).",
           "eta_changed": "Livraison {order} : désormais prévue vers {eta}.",
           "order_not_served": "Nous sommes désolés : votre livraison {order} n'arrivera pas "
                               "dans son créneau (jusqu'à {end}) : {reason}. Nous vous "
                               "contacterons pour une nouvelle livraison.",
           "later": " C'est plus tard que {prev} annoncé dans notre dernier message, car {why}.",
           "earlier": " C'est plus tôt que {prev} annoncé dans notre dernier message, car {why}.",
           "why_later": "la tournée a pris du retard", "why_earlier": "la tournée a été replanifiée",
           "not_delivered": "elle n'a pas été livrée avant la fin du créneau",
           "no_vehicle": "aucun véhicule ne pouvait vous atteindre dans le créneau"},
    "pl": {"window_at_risk": "Twoja dostawa {order} jest opóźniona: nowy przyjazd między {eta} "
                             "a {hi} (okno do {end}).",
           "eta_changed": "Dostawa {order}: teraz przewidywana około {eta}.",
           "order_not_served": "Przepraszamy: dostawa {order} nie dotrze w swoim oknie "
                               "(do {end}): {reason}. Skontaktujemy się w sprawie nowego terminu.",
           "later": " To później niż {prev} z naszej ostatniej wiadomości, ponieważ {why}.",
           "earlier": " To wcześniej niż {prev} z naszej ostatniej wiadomości, ponieważ {why}.",
           "why_later": "na trasie są opóźnienia", "why_earlier": "trasa została zmieniona",
           "not_delivered": "nie została doręczona do końca okna",
           "no_vehicle": "żaden pojazd nie mógł dotrzeć w oknie"},
    "tr": {"window_at_risk": "{order} numaralı teslimatınız gecikiyor: yeni varış {eta} ile {hi} "
                             "arası (zaman aralığı {end} kadar).",
           "eta_changed": "{order} teslimatı: şimdi yaklaşık {eta} bekleniyor.",
           "order_not_served": "Özür dileriz: {order} teslimatınız zaman aralığında ({end} "
                               "kadar) gelmeyecek: {reason}. Yeni teslimat için sizinle "
                               "iletişime geçeceğiz.",
           "later": " Bu, son mesajımızdaki {prev} saatinden daha geç, çünkü {why}.",
           "earlier": " Bu, son mesajımızdaki {prev} saatinden daha erken, çünkü {why}.",
           "why_later": "rotada gecikmeler var", "why_earlier": "rota yeniden planlandı",
           "not_delivered": "zaman aralığının sonuna kadar teslim edilmedi",
           "no_vehicle": "hiçbir araç zaman aralığında size ulaşamadı"},
}
# Recovery of work (operators/zone/recovery.py): reasons of order_not_served.
RECOVERY_REASONS = {
    "en": {
        "attempt_not_home": ("nobody was home at our delivery attempt and there is no time left "
                            "today for another one"),
        "attempt_access": ("our driver could not get access to your address and there is no time "
                          "left today for another attempt"),
        "attempt_refused": 'the delivery was refused',
        "attempt_damaged": 'the parcel was damaged and goes back to the depot',
        "attempt_other": 'our delivery attempt failed',
        "customer_unavailable": "you told us nobody can receive it in its window",
        "stranded": ("the vehicle carrying it went out of service and no other vehicle could bring"
                    " it in time"),
    },
    "de": {
        "attempt_not_home": ("bei unserem Zustellversuch war niemand zu Hause, und heute bleibt "
                            "keine Zeit für einen weiteren"),
        "attempt_access": ("unser Fahrer kam nicht an Ihre Adresse, und heute bleibt keine Zeit "
                          "für einen weiteren Versuch"),
        "attempt_refused": 'die Annahme wurde verweigert',
        "attempt_damaged": 'die Sendung wurde beschädigt und geht zurück ins Depot',
        "attempt_other": 'unser Zustellversuch ist fehlgeschlagen',
        "customer_unavailable": "Sie haben uns mitgeteilt, dass niemand sie im Zeitfenster annehmen kann",
        "stranded": ("das Fahrzeug mit Ihrer Sendung ist ausgefallen, und kein anderes konnte sie "
                    "rechtzeitig bringen"),
    },
    "es": {
        "attempt_not_home": ("no había nadie en casa en nuestro intento de entrega y hoy no queda "
                            "tiempo para otro"),
        "attempt_access": ("nuestro repartidor no pudo acceder a su dirección y hoy no queda "
                          "tiempo para otro intento"),
        "attempt_refused": 'la entrega fue rechazada',
        "attempt_damaged": 'el paquete se dañó y vuelve al almacén',
        "attempt_other": 'nuestro intento de entrega falló',
        "customer_unavailable": "nos indicó que nadie puede recibirla dentro de la franja",
        "stranded": ("el vehículo que la llevaba quedó fuera de servicio y ningún otro pudo "
                    "llevarla a tiempo"),
    },
    "fr": {
        "attempt_not_home": "personne n'était présent lors de notre passage et il ne reste pas de temps aujourd'hui pour une nouvelle tentative",
        "attempt_access": "notre livreur n'a pas pu accéder à votre adresse et il ne reste pas de temps aujourd'hui pour une nouvelle tentative",
        "attempt_refused": 'la livraison a été refusée',
        "attempt_damaged": 'le colis a été endommagé et retourne au dépôt',
        "attempt_other": 'notre tentative de livraison a échoué',
        "customer_unavailable": "vous nous avez indiqué que personne ne peut la recevoir dans le créneau",
        "stranded": "le véhicule qui la transportait est hors service et aucun autre n'a pu la livrer à temps",
    },
    "pl": {
        "attempt_not_home": ("podczas próby doręczenia nikogo nie było w domu, a dziś nie ma już "
                            "czasu na kolejną"),
        "attempt_access": ("kierowca nie mógł dostać się pod Twój adres, a dziś nie ma już czasu "
                          "na kolejną próbę"),
        "attempt_refused": 'odmówiono przyjęcia przesyłki',
        "attempt_damaged": 'przesyłka została uszkodzona i wraca do magazynu',
        "attempt_other": 'próba doręczenia nie powiodła się',
        "customer_unavailable": "poinformowano nas, że nikt nie może jej odebrać w tym oknie",
        "stranded": 'pojazd z przesyłką wypadł z trasy i żaden inny nie zdążył jej dowieźć',
    },
    "tr": {
        "attempt_not_home": ("teslimat denememizde evde kimse yoktu ve bugün yeni bir deneme için "
                            "zaman kalmadı"),
        "attempt_access": ("sürücümüz adresinize erişemedi ve bugün yeni bir deneme için zaman "
                          "kalmadı"),
        "attempt_refused": 'teslimat reddedildi',
        "attempt_damaged": 'paket hasar gördü ve depoya geri dönüyor',
        "attempt_other": 'teslimat denememiz başarısız oldu',
        "customer_unavailable": "zaman aralığında kimsenin teslim alamayacağını bildirdiniz",
        "stranded": ("gönderinizi taşıyan araç hizmet dışı kaldı ve başka bir araç onu zamanında "
                    "getiremedi"),
    },
}
for _lang, _texts in RECOVERY_REASONS.items():
    TEMPLATES[_lang].update(_texts)
UPDATES = ("eta_changed", "window_at_risk")
FINAL = "order_not_served"
REASONS = ("not_delivered", "no_vehicle", "attempt_not_home", "attempt_access", "attempt_refused",
           "attempt_damaged", "attempt_other", "stranded", "customer_unavailable")
"""Reasons of an order_not_served message: expiry (not_delivered, no_vehicle) and
recovery of work (operators/zone/recovery.py: a final failed attempt, an order stranded
on a vehicle that left service and not collected)."""
SAME_TIME_S = 300.0
"""Two times closer than this are the same promise (no new message, no 'why')."""


def local(ts: float, tz: str = "UTC") -> datetime:
    return datetime.fromtimestamp(ts, zone_info(tz))


def hhmm(ts: float, tz: str = "UTC", marker: bool = True) -> str:
    """Local clock time, with the zone's abbreviation (``10:00 CET``)."""
    d = local(ts, tz)
    return d.strftime("%H:%M") + (f" {d.tzname()}" if marker else "")


def language_of(language: str) -> str:
    lang = language.split("-")[0].lower()
    return lang if lang in TEMPLATES else "en"


def render(kind: str, language: str, order_id: str, eta: float, window_end: float,
           hi80: float | None = None, tz: str = "UTC", prev: float | None = None,
           why: str = "", reason: str = "") -> tuple[str, str]:
    """(language used, text) for a notification ``kind``; ``prev``: the time told in
    the last message for this order, when the new one differs (then ``why``)."""
    lang = language_of(language)
    t = TEMPLATES[lang]
    hi = hi80 if hi80 is not None else eta
    text = t[kind].format(order=order_id, eta=hhmm(eta, tz, marker=kind != "window_at_risk"),
                          hi=hhmm(hi, tz), end=hhmm(window_end, tz),
                          reason=t.get(reason, reason))
    if prev is not None and kind in UPDATES:
        key = "later" if eta > prev else "earlier"
        text += t[key].format(prev=hhmm(prev, tz), why=why or t["why_" + key])
    return lang, text


def _in_quiet(ts: float, tz: str, spec: str) -> bool:
    if not spec:
        return False
    a, b = (int(h) * 60 + int(m) for h, m in (p.strip().split(":") for p in spec.split("-")))
    d = local(ts, tz)
    m = d.hour * 60 + d.minute
    return (a <= m < b) if a <= b else (m >= a or m < b)


class CustomerMessages:
    """Whether and how a customer message goes out (see the module doc).  What was
    told lives in the customer's state (``ZoneState.customers[cid]["told"]``), so it
    is in every snapshot and pruned with the customer."""

    def __init__(self, settings: Any = None):
        if settings is None:
            from fleetstream.contract.settings import EngineSettings
            settings = EngineSettings()
        self.s = settings

    def update_limit(self, state: Any, customer_id: str) -> int:
        """Updates a customer may get today: the daily cap minus one message kept for a
        possible ``order_not_served`` of each of their open orders (a customer with
        several orders on a metro day got 4-5 messages when they were not served; with
        this rule the cap holds unless an order created later, or more orders than the
        cap, are not served, since each of them must be told).  A customer with as many
        open orders as the cap gets no updates, only what is final."""
        open_n = sum(1 for x in state.orders.values() if x.customer_id == customer_id)
        return max(0, self.s.notify_customer_max_per_day - max(1, open_n))

    def told(self, state: Any, customer_id: str) -> dict:
        return state.customers.setdefault(customer_id, {}).setdefault("told", {})

    def compose(self, state: Any, now: float, o: Any, kind: str, eta: float, hi80: float,
                reason: str = "") -> tuple[str, str, float, float] | None:
        """(language, text, eta, hi80) of the message to send now, or None (held,
        coalesced or capped: counted in the zone stats)."""
        s = self.s
        told = self.told(state, o.customer_id)
        if kind in UPDATES and hi80 <= eta:
            # The caller had only the ETA: keep the width of the last published interval.
            pub_eta, pub_hi = getattr(o, "pub_eta", None), getattr(o, "pub_hi", None)
            if pub_eta is not None and pub_hi is not None and pub_hi > pub_eta:
                hi80 = eta + (pub_hi - pub_eta)
        if _in_quiet(now, s.timezone, s.notify_quiet_hours):
            told["pending"] = {"order": o.id, "customer": o.customer_id, "kind": kind,
                               "eta": eta, "hi80": hi80, "end": o.window_end, "reason": reason}
            state.count("notifications_held_quiet")
            return None
        if kind in UPDATES:
            last = told.get("orders", {}).get(o.id)
            if last is not None and abs(eta - last) < SAME_TIME_S and told.get("kind") == kind:
                state.count("notifications_coalesced")
                return None
            day = local(now, s.timezone).date().isoformat()
            n_today = told.get("n", 0) if told.get("day") == day else 0
            if (now - told.get("ts", -1e18) < s.notify_customer_interval_s
                    and (last is None or abs(eta - last) <= s.notify_window_change_s)):
                state.count("notifications_coalesced")
                return None
            if n_today >= self.update_limit(state, o.customer_id):
                state.count("notifications_capped")
                return None
            told["day"], told["n"] = day, n_today + 1
        else:   # a final message always goes, and counts
            day = local(now, s.timezone).date().isoformat()
            told["n"] = (told.get("n", 0) if told.get("day") == day else 0) + 1
            told["day"] = day
        told.pop("pending", None)
        lang = (state.customers.get(o.customer_id) or {}).get("language", "en")
        orders = told.setdefault("orders", {})
        prev = orders.get(o.id)
        if prev is not None and abs(eta - prev) < SAME_TIME_S:
            prev = None
        lang, text = render(kind, lang, o.id, eta, o.window_end, hi80, s.timezone, prev,
                            reason=reason)
        told["ts"], told["kind"] = now, kind
        if kind in UPDATES:
            orders[o.id] = eta
        else:
            orders.pop(o.id, None)
        return lang, text, eta, hi80

    def due(self, state: Any, now: float) -> list[tuple[Any, str, float, float, str]]:
        """Messages held in the quiet hours that may go now: (order-like, kind, eta,
        hi80, reason); an update only while its order is still open."""
        s = self.s
        if _in_quiet(now, s.timezone, s.notify_quiet_hours):
            return []
        res = []
        for cid in sorted(state.customers):
            p = (state.customers[cid].get("told") or {}).pop("pending", None)
            if p is None:
                continue
            o = state.orders.get(p["order"])
            if p["kind"] in UPDATES:
                if o is None or o.status in ("delivered", "failed", "cancelled"):
                    continue
            else:
                o = o or SimpleNamespace(id=p["order"], customer_id=p["customer"],
                                         window_end=p["end"], pub_eta=None, pub_hi=None)
            res.append((o, p["kind"], p["eta"], p["hi80"], p["reason"]))
        return res
