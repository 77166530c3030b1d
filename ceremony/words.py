"""Hashes as words that witnesses read aloud: the PGP word list.

Comparing 64 hex digits by voice is slow and error-prone; the PGP word list
(Juola and Zimmermann, 1995) maps each byte to a phonetically distinct
English word. Bytes at even positions (0, 2, 4, ...) use the two-syllable
"even" list and bytes at odd positions the three-syllable "odd" list, so a
dropped, repeated or swapped word is heard as a change of rhythm and is
caught by :func:`from_words` as a word in the wrong position.

Example from the list's documentation: the bytes ``E5 82 94 F2`` read
"topmost Istanbul Pluto vagabond".
"""

from __future__ import annotations

from collections.abc import Sequence

from ceremony.errors import BadInput

_EVEN_TEXT = """
aardvark absurd accrue acme adrift adult afflict ahead aimless Algol allow alone
ammo ancient apple artist assume Athens atlas Aztec baboon backfield backward
banjo beaming bedlamp beehive beeswax befriend Belfast berserk billiard bison
blackjack blockade blowtorch bluebird bombast bookshelf brackish breadline
breakup brickyard briefcase Burbank button buzzard cement chairlift chatter
checkup chisel choking chopper Christmas clamshell classic classroom cleanup
clockwork cobra commence concert cowbell crackdown cranky crowfoot crucial
crumpled crusade cubic dashboard deadbolt deckhand dogsled dragnet drainage
dreadful drifter dropper drumbeat drunken Dupont dwelling eating edict egghead
eightball endorse endow enlist erase escape exceed eyeglass eyetooth facial
fallout flagpole flatfoot flytrap fracture framework freedom frighten gazelle
Geiger glitter glucose goggles goldfish gremlin guidance hamlet highchair hockey
indoors indulge inverse involve island jawbone keyboard kickoff kiwi klaxon
locale lockup merit minnow miser Mohawk mural music necklace Neptune newborn
nightbird Oakland obtuse offload optic orca payday peachy pheasant physique
playhouse Pluto preclude prefer preshrunk printer prowler pupil puppy python
quadrant quiver quota ragtime ratchet rebirth reform regain reindeer rematch
repay retouch revenge reward rhythm ribcage ringbolt robust rocker ruffled
sailboat sawdust scallion scenic scorecard Scotland seabird select sentence
shadow shamrock showgirl skullcap skydive slingshot slowdown snapline snapshot
snowcap snowslide solo southward soybean spaniel spearhead spellbind spheroid
spigot spindle spyglass stagehand stagnate stairway standard stapler steamship
sterling stockman stopwatch stormy sugar surmount suspense sweatband swelter
tactics talon tapeworm tempest tiger tissue tonic topmost tracker transit trauma
treadmill Trojan trouble tumor tunnel tycoon uncut unearth unwind uproot upset
upshot vapor village virus Vulcan waffle wallet watchword wayside willow
woodlark Zulu
"""

_ODD_TEXT = """
adroitness adviser aftermath aggregate alkali almighty amulet amusement antenna
applicant Apollo armistice article asteroid Atlantic atmosphere autopsy Babylon
backwater barbecue belowground bifocals bodyguard bookseller borderline
bottomless Bradbury bravado Brazilian breakaway Burlington businessman butterfat
Camelot candidate cannonball Capricorn caravan caretaker celebrate cellulose
certify chambermaid Cherokee Chicago clergyman coherence combustion commando
company component concurrent confidence conformist congregate consensus
consulting corporate corrosion councilman crossover crucifix cumbersome customer
Dakota decadence December decimal designing detector detergent determine
dictator dinosaur direction disable disbelief disruptive distortion document
embezzle enchanting enrollment enterprise equation equipment escapade Eskimo
everyday examine existence exodus fascinate filament finicky forever fortitude
frequency gadgetry Galveston getaway glossary gossamer graduate gravity
guitarist hamburger Hamilton handiwork hazardous headwaters hemisphere hesitate
hideaway holiness hurricane hydraulic impartial impetus inception indigo inertia
infancy inferno informant insincere insurgent integrate intention inventive
Istanbul Jamaica Jupiter leprosy letterhead liberty maritime matchmaker maverick
Medusa megaton microscope microwave midsummer millionaire miracle misnomer
molasses molecule Montana monument mosquito narrative nebula newsletter
Norwegian October Ohio onlooker opulent Orlando outfielder Pacific pandemic
Pandora paperweight paragon paragraph paramount passenger pedigree Pegasus
penetrate perceptive performance pharmacy phonetic photograph pioneer pocketful
politeness positive potato processor provincial proximate puberty publisher
pyramid quantity racketeer rebellion recipe recover repellent replica reproduce
resistor responsive retraction retrieval retrospect revenue revival revolver
sandalwood sardonic Saturday savagery scavenger sensation sociable souvenir
specialist speculate stethoscope stupendous supportive surrender suspicious
sympathy tambourine telephone therapist tobacco tolerance tomorrow torpedo
tradition travesty trombonist truncated typewriter ultimate undaunted underfoot
unicorn unify universe unravel upcoming vacancy vagabond vertigo Virginia
visitor vocalist voyager warranty Waterloo whimsical Wichita Wilmington Wyoming
yesteryear Yucatan
"""

#: Two-syllable words, for bytes at even positions (0, 2, 4, ...).
EVEN_WORDS: tuple[str, ...] = tuple(_EVEN_TEXT.split())
#: Three-syllable words, for bytes at odd positions (1, 3, 5, ...).
ODD_WORDS: tuple[str, ...] = tuple(_ODD_TEXT.split())

_EVEN_INDEX: dict[str, int] = {word.lower(): i for i, word in enumerate(EVEN_WORDS)}
_ODD_INDEX: dict[str, int] = {word.lower(): i for i, word in enumerate(ODD_WORDS)}


def _as_bytes(digest: bytes | str) -> bytes:
    """Accept raw bytes or hex text, since hashes travel in both forms."""
    if isinstance(digest, bytes | bytearray | memoryview):
        return bytes(digest)
    try:
        return bytes.fromhex(digest.strip())
    except ValueError:
        raise BadInput(
            f"{digest!r} is not a hexadecimal hash",
            "give the hash as hex digits (0-9, a-f), as printed by 'ceremony audit verify'",
        ) from None


def to_words(digest: bytes | str, count: int | None = None) -> list[str]:
    """The words for the first ``count`` bytes of ``digest`` (all by default)."""
    data = _as_bytes(digest)
    if count is not None:
        if count < 0:
            raise ValueError("count must not be negative")
        data = data[:count]
    return [(EVEN_WORDS if i % 2 == 0 else ODD_WORDS)[byte] for i, byte in enumerate(data)]


def short_words(digest: bytes | str, n: int = 6) -> str:
    """A short fingerprint: the first ``n`` words, space separated.

    Six words are 48 bits: enough for witnesses to notice a different hash
    during a ceremony, short enough to say in one breath.
    """
    return " ".join(to_words(digest, n))


def _word_value(word: str, position: int) -> int:
    """The byte a word stands for at ``position`` (0-based), or a clear error."""
    key = word.lower()
    expected, other = (_EVEN_INDEX, _ODD_INDEX) if position % 2 == 0 else (_ODD_INDEX, _EVEN_INDEX)
    if key in expected:
        return expected[key]
    if key in other:
        raise BadInput(
            f"word {position + 1} ({word!r}) belongs at an {'odd' if position % 2 == 0 else 'even'}"
            " position: a word was probably skipped or said twice",
            "read the words again from the start and compare them one by one",
        )
    raise BadInput(
        f"word {position + 1} ({word!r}) is not in the PGP word list",
        "check the spelling against the words shown on the screen or the printed record",
    )


def from_words(words: str | Sequence[str]) -> bytes:
    """The bytes for words typed back by a witness (any case, spaces or dashes).

    The inverse of :func:`to_words`; it refuses an unknown word or a word
    in the wrong position rather than guessing.
    """
    if isinstance(words, str):
        words = words.replace("-", " ").replace(",", " ").split()
    return bytes(_word_value(word, i) for i, word in enumerate(words))
