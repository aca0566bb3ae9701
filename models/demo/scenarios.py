"""The demo organisation: three budgets of different shapes, simulated day by day.

Each scenario turns expected hourly intensities into Poisson event counts and
draws event values, so every measure has trend, yearly and weekly seasonality,
an hourly profile and noise. Planted phenomena (an event shock, a segment mix
shift, a component change, an influence change) are switched on at fixed dates
and described in :data:`PLANTED`, which the generator writes as ground truth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from models.demo.seasonality import (
    WEEKDAY_BUSINESS, WEEKDAY_CONSUMER, business_hours, consumer_hours, daily_factor, ramp,
)


@dataclass(frozen=True)
class Emission:
    """Events of one measure for one day: leaf index, second of day, value."""

    measure: str
    leaf: np.ndarray
    second: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class Documents:
    """Free-text documents of one day (e.g. ticket bodies) with their leaf and second."""

    kind: str
    leaf: np.ndarray
    second: np.ndarray
    text: list[str]


@dataclass(frozen=True)
class Planted:
    """A phenomenon planted in the demo data, for tests and the ground-truth file."""

    budget: str
    phenomenon: str  # event_shock | mix_shift | component_change | influence_change | sentiment_shift | sentiment_conflict
    start: dt.date
    end: dt.date
    metric: str
    driver: str
    level: str | None
    segments: tuple[str, ...]
    magnitude: float
    description: str


def _draw(rng: np.random.Generator, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts for an (n_leaves, 24) intensity grid -> (leaf, second) per event."""
    counts = rng.poisson(np.clip(lam, 0, None)).ravel()
    cells = np.repeat(np.arange(counts.size), counts)
    leaf, hour = np.divmod(cells, 24)
    second = hour * 3600 + rng.integers(0, 3600, size=cells.size)
    return leaf, second


class Scenario:
    """One demo budget: segment leaves and a day simulator."""

    budget: str
    levels: tuple[str, ...]
    leaves: tuple[tuple[str, ...], ...]

    def simulate(self, day: dt.date, rng: np.random.Generator, scale: float) -> tuple[list[Emission], list[Documents]]:
        raise NotImplementedError

    def _mask(self, level: str, value: str) -> np.ndarray:
        col = self.levels.index(level)
        return np.array([leaf[col] == value for leaf in self.leaves])


# --- marketing acquisition --------------------------------------------------------

PRICE_CHANGE = dt.date(2026, 6, 1)
OUTAGE = dt.date(2026, 7, 14)
MIX_SHIFT = (dt.date(2026, 4, 1), dt.date(2026, 4, 29))
PPC_EFFICIENCY_DROP = dt.date(2026, 9, 1)


class MarketingAcquisition(Scenario):
    budget = "marketing_acquisition"
    levels = ("channel", "campaign", "ad_group")
    leaves = tuple(
        (channel, campaign, f"{campaign}_{n}")
        for channel, campaigns in (("ppc", ("brand", "generic", "retargeting")),
                                   ("sales_team", ("enterprise", "smb")),
                                   ("consultants", ("partners", "freelance")))
        for campaign in campaigns for n in (1, 2)
    )
    # per channel: transactions/hour/leaf, mean amount, leads per EUR, lead->customer conversion
    CHANNELS = {
        "ppc": (3.0, 8.0, 1 / 25, 0.08),
        "sales_team": (2.0, 20.0, 1 / 40, 0.25),
        "consultants": (1.0, 30.0, 1 / 30, 0.18),
    }


    def simulate(self, day, rng, scale):
        n = len(self.leaves)
        channel = np.array([leaf[0] for leaf in self.leaves])
        tx_rate = np.array([self.CHANNELS[c][0] for c in channel])
        amount = np.array([self.CHANNELS[c][1] for c in channel])
        efficiency = np.array([self.CHANNELS[c][2] for c in channel])
        conversion = np.array([self.CHANNELS[c][3] for c in channel])
        # leaf-level variety so that segments rank differently
        variety = 0.7 + 0.6 * ((np.arange(n) * 0.37) % 1.0)

        shift = ramp(day, *MIX_SHIFT)
        tx_rate = tx_rate * np.where(channel == "ppc", 1 - 0.4 * shift, np.where(channel == "sales_team", 1 + 0.6 * shift, 1.0))
        if day >= PPC_EFFICIENCY_DROP:
            efficiency = efficiency * np.where(channel == "ppc", 0.7, 1.0)
        shock = np.where(channel == "ppc", 0.15, 1.0) if day == OUTAGE else np.ones(n)

        hours = np.vstack([consumer_hours() if c == "ppc" else business_hours() for c in channel]) * 24
        weekday = np.vstack([WEEKDAY_CONSUMER if c == "ppc" else WEEKDAY_BUSINESS for c in channel])
        season = np.array([daily_factor(day, weekday[i], 0.15, 320, 0.12) for i in range(n)])
        spend_lam = (tx_rate * variety * season * scale)[:, None] * hours
        leaf, second = _draw(rng, spend_lam)
        spend = Emission("spend", leaf, second, np.round(rng.gamma(4.0, amount[leaf] / 4.0), 2))

        euro_per_hour = spend_lam * amount[:, None]
        lead_lam = euro_per_hour * (efficiency * shock)[:, None]
        leaf, second = _draw(rng, lead_lam)
        leads = Emission("lead", leaf, second, np.ones(leaf.size))

        cust_lam = lead_lam * (conversion * variety ** 0.5)[:, None]
        leaf, second = _draw(rng, cust_lam)
        customers = Emission("new_customer", leaf, second, np.ones(leaf.size))
        units = Emission("order_units", leaf, second, (rng.poisson(2.0, leaf.size) + 1).astype(float))
        price_level = 49.0 * (1.15 if day >= PRICE_CHANGE else 1.0)
        prices = Emission("unit_price", leaf, second, np.round(rng.normal(price_level, 3.0, leaf.size).clip(1), 2))
        return [spend, leads, customers, units, prices], []


# --- product delivery ---------------------------------------------------------------

LAUNCH = dt.date(2026, 3, 2)
CONTRACTOR_COST = dt.date(2026, 5, 1)
MOBILE_CRUNCH = (LAUNCH - dt.timedelta(days=14), LAUNCH + dt.timedelta(days=21))
_TEAMS = ("platform", "mobile", "data", "ux", "brand", "infra", "tools")
_VOICE = {
    1: ["Honestly this is burning everyone out.", "I am exhausted and fed up with these deadlines.",
        "Nobody trusts this plan anymore, it is awful."],
    2: ["Morale is low after the last sprint.", "People are frustrated with the constant changes.",
        "We are struggling to keep up and feel overloaded."],
    3: ["Busy week, work is progressing as usual.", "Some blockers this week, nothing dramatic.",
        "Normal week, nothing special to report."],
    4: ["Good progress this week, the team is positive.", "Nice collaboration on the release.",
        "Happy with how the sprint went."],
    5: ["Fantastic week, everyone is energised!", "Great teamwork, really proud of this team.",
        "Excellent momentum and a great spirit in the team."],
}
_AGENDA = ["Reviewed the roadmap.", "Discussed hiring.", "Planned the next sprint.", "Went through incidents."]


class ProductDelivery(Scenario):
    budget = "product_delivery"
    levels = ("department", "team", "project")
    leaves = tuple(
        (dept, team, project)
        for dept, teams in (("engineering", (("platform", ("api", "billing_engine")), ("mobile", ("ios_app", "android_app")), ("data", ("warehouse",)))),
                            ("design", (("ux", ("onboarding", "checkout")), ("brand", ("style_guide",)))),
                            ("operations", (("infra", ("cloud_migration", "observability")), ("tools", ("helpdesk",)))))
        for team, projects in teams for project in projects
    )


    def simulate(self, day, rng, scale):
        n = len(self.leaves)
        dept = np.array([leaf[0] for leaf in self.leaves])
        team = np.array([leaf[1] for leaf in self.leaves])
        hours = business_hours(9, 18)[None, :] * 24
        season = daily_factor(day, WEEKDAY_BUSINESS, 0.08, 150, 0.05)
        variety = 0.75 + 0.5 * ((np.arange(n) * 0.61) % 1.0)

        rate = np.where(dept == "engineering", 1.6, 1.0) * variety * season * scale
        cost_amount = np.where(dept == "engineering", 70.0, 55.0)
        if day >= CONTRACTOR_COST:
            cost_amount = cost_amount * np.where(dept == "engineering", 1.2, 1.0)
        leaf, second = _draw(rng, rate[:, None] * hours)
        cost = Emission("cost", leaf, second, np.round(rng.gamma(6.0, cost_amount[leaf] / 6.0), 2))

        leaf, second = _draw(rng, 0.55 * rate[:, None] * hours)
        points = Emission("story_points", leaf, second, rng.choice([1.0, 2.0, 3.0, 5.0, 8.0], size=leaf.size, p=[.2, .3, .25, .17, .08]))

        on_time_p = 0.72 + 0.2 * ((np.arange(n) * 0.29) % 1.0)
        leaf, second = _draw(rng, np.full((n, 24), 0.3 * scale * season / 24))
        milestones = Emission("milestone_on_time", leaf, second, (rng.random(leaf.size) < on_time_p[leaf]).astype(float))

        sat_mean = 3.7 + 0.6 * on_time_p
        after_launch = (day - LAUNCH).days
        if 0 <= after_launch < 10:
            sat_mean = sat_mean - np.where(team == "mobile", 1.2, 0.0)
        leaf, second = _draw(rng, np.full((n, 24), 3.0 * scale * season / 24))
        sat = Emission("satisfaction_score", leaf, second, np.clip(np.rint(rng.normal(sat_mean[leaf], 0.8)), 1, 5))
        # documents are drawn after every event, so the events do not depend on them
        return [cost, points, milestones, sat], self._team_voice(day, rng, scale)

    def morale(self, day: dt.date, kind: str) -> dict[str, float]:
        """Planted morale (1-5) per team: mobile's launch crunch; engineering's chat sours after contractors
        arrive while its meeting notes stay upbeat (a conflict between sources)."""
        mood = {team: 3.8 for team in _TEAMS}
        if MOBILE_CRUNCH[0] <= day < MOBILE_CRUNCH[1]:
            mood["mobile"] = 2.0
        if day >= CONTRACTOR_COST and kind == "chat":
            for team in ("platform", "mobile", "data"):
                mood[team] = min(mood[team], 2.4)
        return mood

    def _team_voice(self, day: dt.date, rng: np.random.Generator, scale: float) -> list[Documents]:
        """Monday meeting notes (one per team) and weekday chat messages, their tone drawn around the planted morale."""
        if day.weekday() >= 5:
            return []
        first_leaf = {team: next(i for i, leaf in enumerate(self.leaves) if leaf[1] == team) for team in _TEAMS}
        out = []
        for kind, per_team in (("meeting_note", 1.0 if day.weekday() == 0 else 0.0), ("chat", 3.0 * scale)):
            mood = self.morale(day, kind)
            leaves, seconds, texts = [], [], []
            for team in _TEAMS:
                for _ in range(int(rng.poisson(per_team)) if kind == "chat" else int(per_team)):
                    tone = int(np.clip(np.rint(rng.normal(mood[team], 0.7)), 1, 5))
                    bank = _VOICE[tone]
                    if kind == "meeting_note":
                        text = (f"Weekly sync, {team} team. {bank[int(rng.integers(len(bank)))]} "
                                f"{_AGENDA[int(rng.integers(len(_AGENDA)))]}")
                    else:
                        text = bank[int(rng.integers(len(bank)))]
                    leaves.append(first_leaf[team])
                    seconds.append(int(rng.integers(9 * 3600, 18 * 3600)))
                    texts.append(text)
            out.append(Documents(kind, np.array(leaves, dtype=int), np.array(seconds, dtype=int), texts))
        return out


# --- customer support ----------------------------------------------------------------

APAC_GROWTH = (dt.date(2026, 2, 1), dt.date(2026, 3, 31))
CSAT_SENSITIVITY_CHANGE = dt.date(2026, 8, 1)
MIGRATION = (dt.date(2026, 9, 1), dt.date(2026, 9, 6))

_ISSUES = {
    "billing": ["was charged twice this month", "cannot download the invoice", "the refund has not arrived",
                "the VAT number is wrong on the bill"],
    "technical": ["the app crashes on login", "exports time out", "the sync stopped overnight",
                  "two-factor codes never arrive"],
}
_TONE = [
    (1.0, ["This is unacceptable and I am furious.", "Worst support experience ever, cancelling soon."]),
    (2.0, ["Very disappointed, this keeps happening.", "Frustrated that nobody has answered yet."]),
    (3.0, ["Please have a look when you can.", "Not urgent but annoying."]),
    (4.0, ["Thanks for the quick help last time.", "Appreciate your help with this."]),
    (5.0, ["You folks are great, thank you!", "Love the product, just this one thing."]),
]


class CustomerSupport(Scenario):
    budget = "customer_support"
    levels = ("region", "tier", "queue")
    leaves = tuple((region, tier, queue) for region in ("emea", "amer", "apac")
                   for tier in ("standard", "premium") for queue in ("billing", "technical"))
    TZ = {"emea": 0, "amer": -6, "apac": 8}


    def expected_csat(self, day: dt.date, resolution_mean: np.ndarray) -> np.ndarray:
        slope = 0.08 if day >= CSAT_SENSITIVITY_CHANGE else 0.04
        return np.clip(4.75 - slope * resolution_mean, 1, 5)

    def _resolution_mean(self, day: dt.date) -> np.ndarray:
        tier = np.array([leaf[1] for leaf in self.leaves])
        queue = np.array([leaf[2] for leaf in self.leaves])
        base = np.where(tier == "premium", 6.0, 14.0) * np.where(queue == "technical", 1.4, 1.0)
        load = daily_factor(day, WEEKDAY_BUSINESS, 0.12, 20, 0.0)
        return base * (0.8 + 0.2 * load)

    def simulate(self, day, rng, scale):
        n = len(self.leaves)
        region = np.array([leaf[0] for leaf in self.leaves])
        tier = np.array([leaf[1] for leaf in self.leaves])
        queue = np.array([leaf[2] for leaf in self.leaves])
        hours = np.vstack([business_hours(8, 19, self.TZ[r]) for r in region])  # sums to 1: volume is per day
        season = daily_factor(day, WEEKDAY_BUSINESS, 0.12, 20, 0.1)
        volume = np.where(tier == "standard", 32.0, 14.0) * np.where(region == "apac", 1 + 1.0 * ramp(day, *APAC_GROWTH), 1.0)
        if MIGRATION[0] <= day < MIGRATION[1]:
            volume = volume * np.where(queue == "billing", 3.0, 1.0)
        leaf, second = _draw(rng, (volume * season * scale)[:, None] * hours)
        tickets = Emission("ticket", leaf, second, np.ones(leaf.size))

        res_mean = self._resolution_mean(day)
        resolution = np.round(rng.lognormal(np.log(res_mean[leaf]) - 0.18, 0.6), 2)
        res_second = np.minimum(second + (resolution * 3600).astype(int), 86399)
        resolved = Emission("resolution_hours", leaf, res_second, resolution)

        answered = rng.random(leaf.size) < 0.35
        slope = 0.08 if day >= CSAT_SENSITIVITY_CHANGE else 0.04
        csat_values = np.clip(np.rint(4.75 - slope * resolution[answered] + rng.normal(0, 0.7, answered.sum())), 1, 5)
        csat = Emission("csat", leaf[answered], res_second[answered], csat_values)

        # churn risk follows the satisfaction a week earlier (the declared 7-day lag)
        lagged = self.expected_csat(day - dt.timedelta(days=7), self._resolution_mean(day - dt.timedelta(days=7)))
        risk_mean = 1 / (1 + np.exp(2.2 * (lagged - 3.2)))
        c_leaf, c_second = _draw(rng, np.full((n, 24), 4.0 * scale / 24))
        churn = Emission("churn_risk", c_leaf, c_second,
                         np.round(np.clip(rng.beta(2, 2, c_leaf.size) * 2 * risk_mean[c_leaf], 0, 1), 4))

        docs = self._ticket_bodies(rng, leaf, second, queue, answered, csat_values)
        return [tickets, resolved, csat, churn], [docs]

    def _ticket_bodies(self, rng, leaf, second, queue, answered, csat_values) -> Documents:
        """Bodies of answered tickets; tone follows the customer's CSAT (planted sentiment)."""
        idx = np.flatnonzero(answered)
        texts = []
        for k, i in enumerate(idx):
            issue = _ISSUES[queue[leaf[i]]][int(rng.integers(len(_ISSUES[queue[leaf[i]]])))]
            tone = _TONE[int(csat_values[k]) - 1][1]
            texts.append(f"Customer reports that {issue}. {tone[int(rng.integers(len(tone)))]}")
        return Documents("ticket", leaf[idx], second[idx], texts)


SCENARIOS: dict[str, Scenario] = {s.budget: s for s in (MarketingAcquisition(), ProductDelivery(), CustomerSupport())}

PLANTED: tuple[Planted, ...] = (
    Planted("marketing_acquisition", "component_change", PRICE_CHANGE, PRICE_CHANGE, "revenue", "avg_price",
            None, (), 0.15, "unit price raised 15% for every segment"),
    Planted("marketing_acquisition", "event_shock", OUTAGE, OUTAGE, "leads", "Ad platform outage",
            "channel", ("ppc",), -0.85, "ppc leads and customers fell to 15% for one day"),
    Planted("marketing_acquisition", "mix_shift", *MIX_SHIFT, "leads", "channel", "channel",
            ("ppc", "sales_team"), 0.6, "spend share moved from ppc (-40%) to sales_team (+60%)"),
    Planted("marketing_acquisition", "influence_change", PPC_EFFICIENCY_DROP, PPC_EFFICIENCY_DROP, "leads", "spend",
            "channel", ("ppc",), -0.3, "leads per EUR of ppc spend fell by 30%"),
    Planted("product_delivery", "event_shock", LAUNCH, LAUNCH + dt.timedelta(days=9), "user_satisfaction",
            "Mobile app v3 launch", "team", ("mobile",), -1.2, "mobile satisfaction fell 1.2 points for 10 days"),
    Planted("product_delivery", "component_change", CONTRACTOR_COST, CONTRACTOR_COST, "cost_per_point", "cost",
            "department", ("engineering",), 0.2, "engineering cost per transaction rose 20%"),
    Planted("product_delivery", "sentiment_shift", *MOBILE_CRUNCH, "team_morale", "meeting notes and chat",
            "team", ("mobile",), -1.8, "mobile team morale fell from 3.8 to 2.0 around the app launch"),
    Planted("product_delivery", "sentiment_conflict", CONTRACTOR_COST, dt.date(2026, 10, 31), "team_morale", "chat",
            "department", ("engineering",), -1.4, "engineering chat soured (3.8 -> 2.4) while meeting notes stayed upbeat"),
    Planted("customer_support", "mix_shift", *APAC_GROWTH, "tickets", "region", "region",
            ("apac",), 1.0, "apac ticket volume doubled over two months"),
    Planted("customer_support", "influence_change", CSAT_SENSITIVITY_CHANGE, CSAT_SENSITIVITY_CHANGE, "csat",
            "avg_resolution_hours", None, (), 1.0, "csat loss per resolution hour doubled (0.04 -> 0.08)"),
    Planted("customer_support", "event_shock", MIGRATION[0], MIGRATION[1] - dt.timedelta(days=1), "tickets",
            "Billing system migration", "queue", ("billing",), 2.0, "billing tickets tripled for five days"),
)
