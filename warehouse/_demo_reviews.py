"""Review text for the demo shop: composed from per-aspect phrases whose sentiment follows the rating."""

from __future__ import annotations

import numpy as np

# aspect -> (positive phrases, negative phrases); "{noun}" is the item's product noun in lower case.
ASPECTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "quality": (
        (
            "Feels solid and well made.",
            "The build quality is excellent for the price.",
            "Quality is better than I expected.",
        ),
        (
            "Feels cheap and flimsy.",
            "The quality is poor, it already shows wear.",
            "Cheaply made, corners were cut everywhere.",
        ),
    ),
    "price": (
        ("Great value for money.", "Worth every penny.", "Cheaper than the big brands and just as good."),
        ("Overpriced for what you get.", "Not worth the money.", "Way too expensive for this quality."),
    ),
    "shipping": (
        ("Arrived quickly and well packed.", "Shipping was fast, two days door to door.", "Delivery was on time."),
        ("The box arrived dented.", "Delivery took longer than promised.", "Packaging was a mess."),
    ),
    "support": (
        (
            "Customer support answered within an hour and was very helpful.",
            "Support walked me through setup patiently.",
        ),
        ("Customer support never replied to my emails.", "Support was useless and kept sending canned answers."),
    ),
    "sound": (
        ("The sound is crisp with deep bass.", "Sound quality is superb at any volume."),
        ("The sound is tinny and distorts at high volume.", "Bass is muddy and the highs are harsh."),
    ),
    "battery": (
        ("Battery lasts for days.", "Battery life easily gets me through a full week."),
        ("Battery life is much shorter than advertised.", "The battery drains fast even on standby."),
    ),
    "comfort": (
        ("Very comfortable, I forget I'm wearing it.", "Comfortable even after hours of use."),
        ("Uncomfortable after twenty minutes.", "It pinches and gets hot quickly."),
    ),
    "connectivity": (
        ("Pairs instantly and never drops.", "Bluetooth connection is rock solid."),
        ("Keeps disconnecting from my phone.", "Pairing is a nightmare every single time."),
    ),
    "performance": (
        ("Powerful and does the job in seconds.", "Crushes ice and frozen fruit with no effort."),
        ("Struggles with anything harder than soft fruit.", "Takes forever and the result is uneven."),
    ),
    "cleaning": (
        ("Easy to clean, the parts go in the dishwasher.", "Cleanup takes a minute."),
        ("A pain to clean, food gets stuck everywhere.", "Hard to clean around the blades."),
    ),
    "noise": (
        ("Surprisingly quiet.", "Much quieter than my old one."),
        ("Extremely loud, it wakes up the whole house.", "The noise is unbearable."),
    ),
    "build": (
        ("Sturdy construction.", "Solid materials and a nice finish."),
        ("The plastic feels brittle.", "Parts started to wobble after a week."),
    ),
    "fit": (
        ("Fits true to size.", "The fit is perfect, ordered my usual size."),
        ("Runs two sizes small, order a size up.", "The sizing is way off, sleeves are too short."),
    ),
    "fabric": (
        ("The fabric is soft and breathable.", "Material feels premium and washes well."),
        ("The fabric pilled after one wash.", "Material is thin and scratchy."),
    ),
    "color": (
        ("The color is exactly as pictured.", "Lovely color that did not fade."),
        ("The color looks nothing like the photos.", "The color faded after two washes."),
    ),
    "setup": (
        ("Setup took two minutes.", "Easy to set up, the app is clear."),
        ("Setup was confusing and the app kept crashing.", "Took an hour to get it working."),
    ),
    "look": (
        ("Looks great in my living room.", "Stylish and modern."),
        ("Looks cheaper in person.", "The finish looks nothing like the photos."),
    ),
    "scent": (
        ("Smells fresh and light.", "The scent is lovely and not overpowering."),
        ("The scent is overwhelming and chemical.", "Smells strange, like plastic."),
    ),
    "skin": (
        ("My skin feels soft and hydrated.", "Gentle on my sensitive skin."),
        ("Left my skin dry and tight.", "Made my skin oily within an hour."),
    ),
    "packaging": (
        ("Nice packaging, makes a good gift.", "The pump works perfectly."),
        ("The pump broke on day one.", "The bottle leaked in the box."),
    ),
    "grip": (
        ("Great grip even when sweaty.", "Non-slip surface works really well."),
        ("Slippery as soon as you sweat.", "The grip wore off within a month."),
    ),
    "size": (
        ("Perfect size for my small apartment.", "Compact and easy to store."),
        ("Much smaller than it looks in the pictures.", "Too bulky to store anywhere."),
    ),
    "fun": (
        ("The kids play with it every day.", "Hours of fun for the whole family."),
        ("The kids got bored after ten minutes.", "Not much fun, honestly."),
    ),
    "age_fit": (
        ("Perfect for the recommended age.", "Just challenging enough for my 8-year-old."),
        ("Too hard for the age on the box.", "Too simple for the age it says."),
    ),
}
GENERAL_ASPECTS = ("quality", "price", "shipping", "support")

# Recurring problems of specific items, the kind a demo question asks about.
DEFECTS: dict[str, tuple[str, ...]] = {
    "battery": (
        "The battery died after two weeks and will not charge anymore.",
        "Battery went from 20 hours to barely one hour within a month.",
        "After a few weeks the battery dies in the middle of a call.",
        "Mine stopped holding a charge after 3 weeks, the battery is defective.",
    ),
    "leak": (
        "It leaks from the bottom of the jar every time I use it.",
        "The jar leaked all over my counter on the first use.",
        "The seal is bad, liquid leaks out under the blades.",
    ),
    "motor": ("The motor burned out after a month, smelled like smoke.", "Motor started grinding and then died."),
    "connectivity": (
        "The connection keeps dropping every few minutes.",
        "It randomly disconnects and needs to be re-paired daily.",
    ),
    "fit": ("Runs very small, the sizing chart is wrong.", "The fit is completely off, had to return it."),
    "seams": ("The seams came apart after the second use.", "Stitching unraveled within a week."),
    "charging": (
        "It stopped charging after a couple of weeks.",
        "The charging port is loose and only works at an angle.",
    ),
    "broken_on_arrival": ("It arrived broken, cracked right out of the box.", "Came with a shattered part."),
    "irritation": ("It gave me a rash and burning on my skin.", "Caused redness and irritation after one use."),
    "missing_parts": ("Pieces were missing from the box.", "Several parts were missing, could not finish it."),
}
LATE_SHIPPING = (
    "It arrived almost two weeks late.",
    "Shipping took forever, nearly three weeks.",
    "Delivery was late by more than ten days and tracking never updated.",
    "The order was stuck in transit for two weeks.",
)

_OPENERS = {
    1: ("Very disappointed.", "Do not buy this {noun}.", "Terrible purchase.", "What a waste of money."),
    2: ("Not great.", "I expected more from this {noun}.", "Disappointing overall.", "Meh, would not buy again."),
    3: ("It's okay.", "Mixed feelings about this {noun}.", "Average, nothing special.", "Decent but not great."),
    4: ("Pretty good {noun}.", "Happy with this purchase.", "Good {noun} overall.", "Solid choice."),
    5: (
        "Absolutely love this {noun}!",
        "Excellent {noun}.",
        "Best purchase this year.",
        "Fantastic, highly recommend.",
    ),
}
_CLOSERS = {
    1: ("Returning it.", "Avoid.", "Asked for a refund.", ""),
    2: ("Would not recommend.", "Probably returning it.", ""),
    3: ("It does the job.", "Might be fine if it's on sale.", ""),
    4: ("Would buy again.", "Recommended.", ""),
    5: ("Would buy again in a heartbeat!", "Highly recommend.", "Five stars.", ""),
}
_TITLES = {
    1: ("Terrible", "Don't buy", "Broke fast", "Waste of money", "Very disappointed"),
    2: ("Disappointing", "Not worth it", "Expected better", "Meh"),
    3: ("It's okay", "Average", "Mixed feelings", "Fine for the price"),
    4: ("Good value", "Pretty good", "Happy with it", "Solid"),
    5: ("Love it!", "Excellent", "Perfect", "Highly recommend", "Best ever"),
}
_POSITIVE_SHARE = np.array([0.0, 0.05, 0.15, 0.5, 0.85, 0.97])  # by rating


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[rng.integers(len(options))]


def compose(
    rating: int, noun: str, aspects: tuple[str, ...], defect: str, late: bool, rng: np.random.Generator
) -> tuple[str, str]:
    """A review (title, body) for an item with these aspects, its recurring defect, and a late delivery."""
    noun = noun.lower()
    sentences = [_pick(_OPENERS[rating], rng).format(noun=noun)]
    pool = aspects + GENERAL_ASPECTS
    chosen = rng.choice(len(pool), size=min(len(pool), int(rng.integers(1, 4))), replace=False)
    mentions_defect = bool(defect) and rating <= 3 and rng.random() < 0.85
    if mentions_defect:
        sentences.append(_pick(DEFECTS[defect], rng))
    mentions_late = late and rating <= 4 and rng.random() < 0.75
    if mentions_late:
        sentences.append(_pick(LATE_SHIPPING, rng))
    for index in chosen:
        aspect = pool[index]
        if (aspect == "shipping" and mentions_late) or (aspect == defect and mentions_defect):
            continue
        # the item's recurring problem is real: nobody praises that aspect of it
        positive = aspect != defect and rng.random() < _POSITIVE_SHARE[rating]
        sentences.append(_pick(ASPECTS[aspect][0 if positive else 1], rng))
    sentences.append(_pick(_CLOSERS[rating], rng))
    if mentions_defect and rng.random() < 0.5:
        title = {"battery": "Battery died", "leak": "Leaks everywhere"}.get(defect, _pick(_TITLES[rating], rng))
    elif mentions_late and rng.random() < 0.4:
        title = "Arrived late"
    else:
        title = _pick(_TITLES[rating], rng)
    return title, " ".join(s for s in sentences if s)
