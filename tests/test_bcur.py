"""The BC-UR baseline of the QR benchmark: reference test vectors and round trips.

Vectors are those of Blockchain Commons' reference implementations (bc-ur
test/test.cpp, URKit, bc-ur-rust). Where an old copy of the C++ test
disagrees with the current word list (255 is "zoom"; the Bytewords and UR
part strings), the vectors shared by the current Swift, Rust, Go and
TypeScript implementations are used.
"""

from __future__ import annotations

import random
import sys
from collections import deque
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bcur

RNG1 = [
    42,
    81,
    85,
    8,
    82,
    84,
    76,
    73,
    70,
    88,
    2,
    74,
    40,
    48,
    77,
    54,
    88,
    7,
    5,
    88,
    37,
    25,
    82,
    13,
    69,
    59,
    30,
    39,
    11,
    82,
    19,
    99,
    45,
    87,
    30,
    15,
    32,
    22,
    89,
    44,
    92,
    77,
    29,
    78,
    4,
    92,
    44,
    68,
    92,
    69,
    1,
    42,
    89,
    50,
    37,
    84,
    63,
    34,
    32,
    3,
    17,
    62,
    40,
    98,
    82,
    89,
    24,
    43,
    85,
    39,
    15,
    3,
    99,
    29,
    20,
    42,
    27,
    10,
    85,
    66,
    50,
    35,
    69,
    70,
    70,
    74,
    30,
    13,
    72,
    54,
    11,
    5,
    70,
    55,
    91,
    52,
    10,
    43,
    43,
    52,
]
RNG2 = [
    88,
    44,
    94,
    74,
    0,
    99,
    7,
    77,
    68,
    35,
    47,
    78,
    19,
    21,
    50,
    15,
    42,
    36,
    91,
    11,
    85,
    39,
    64,
    22,
    57,
    11,
    25,
    12,
    1,
    91,
    17,
    75,
    29,
    47,
    88,
    11,
    68,
    58,
    27,
    65,
    21,
    54,
    47,
    54,
    73,
    83,
    23,
    58,
    75,
    27,
    26,
    15,
    60,
    36,
    30,
    21,
    55,
    57,
    77,
    76,
    75,
    47,
    53,
    76,
    9,
    91,
    14,
    69,
    3,
    95,
    11,
    73,
    20,
    99,
    68,
    61,
    3,
    98,
    36,
    98,
    56,
    65,
    14,
    80,
    74,
    57,
    63,
    68,
    51,
    56,
    24,
    39,
    53,
    80,
    57,
    51,
    81,
    3,
    1,
    30,
]
RNG3 = [
    6,
    5,
    8,
    4,
    10,
    5,
    7,
    10,
    4,
    9,
    10,
    9,
    7,
    7,
    1,
    1,
    2,
    9,
    9,
    2,
    6,
    4,
    5,
    7,
    8,
    5,
    4,
    2,
    3,
    8,
    7,
    4,
    5,
    1,
    10,
    9,
    3,
    10,
    2,
    6,
    8,
    5,
    7,
    9,
    3,
    1,
    5,
    2,
    7,
    1,
    4,
    4,
    4,
    4,
    9,
    4,
    5,
    5,
    6,
    9,
    5,
    1,
    2,
    8,
    3,
    3,
    2,
    8,
    4,
    3,
    2,
    1,
    10,
    8,
    9,
    3,
    10,
    8,
    5,
    5,
    6,
    7,
    10,
    5,
    8,
    9,
    4,
    6,
    4,
    2,
    10,
    2,
    1,
    7,
    9,
    6,
    7,
    4,
    2,
    5,
]
SAMPLES = [
    3,
    3,
    3,
    3,
    3,
    3,
    3,
    0,
    2,
    3,
    3,
    3,
    3,
    1,
    2,
    2,
    1,
    3,
    3,
    2,
    3,
    3,
    1,
    1,
    2,
    1,
    1,
    3,
    1,
    3,
    1,
    2,
    0,
    2,
    1,
    0,
    3,
    3,
    3,
    1,
    3,
    3,
    3,
    3,
    1,
    3,
    2,
    3,
    2,
    2,
    3,
    3,
    3,
    3,
    2,
    3,
    3,
    0,
    3,
    3,
    3,
    3,
    1,
    2,
    3,
    3,
    2,
    2,
    2,
    1,
    2,
    2,
    1,
    2,
    3,
    1,
    3,
    0,
    3,
    2,
    3,
    3,
    3,
    3,
    3,
    3,
    3,
    3,
    2,
    3,
    1,
    3,
    3,
    2,
    0,
    2,
    2,
    3,
    1,
    1,
    2,
    3,
    2,
    3,
    3,
    3,
    3,
    2,
    3,
    3,
    3,
    3,
    3,
    2,
    3,
    1,
    2,
    1,
    1,
    3,
    1,
    3,
    2,
    2,
    3,
    3,
    3,
    1,
    3,
    3,
    3,
    3,
    3,
    3,
    3,
    3,
    2,
    3,
    2,
    3,
    3,
    1,
    2,
    3,
    3,
    1,
    3,
    2,
    3,
    3,
    3,
    2,
    3,
    1,
    3,
    0,
    3,
    2,
    1,
    1,
    3,
    1,
    3,
    2,
    3,
    3,
    3,
    3,
    2,
    0,
    3,
    3,
    1,
    3,
    0,
    2,
    1,
    3,
    3,
    1,
    1,
    3,
    1,
    2,
    3,
    3,
    3,
    0,
    2,
    3,
    2,
    0,
    1,
    3,
    3,
    3,
    2,
    2,
    2,
    3,
    3,
    3,
    3,
    3,
    2,
    3,
    3,
    3,
    3,
    2,
    3,
    3,
    2,
    0,
    2,
    3,
    3,
    3,
    3,
    2,
    1,
    1,
    1,
    2,
    1,
    3,
    3,
    3,
    2,
    2,
    3,
    3,
    1,
    2,
    3,
    0,
    3,
    2,
    3,
    3,
    3,
    3,
    0,
    2,
    2,
    3,
    2,
    2,
    3,
    3,
    3,
    3,
    1,
    3,
    2,
    3,
    3,
    3,
    3,
    3,
    2,
    2,
    3,
    1,
    3,
    0,
    2,
    1,
    3,
    3,
    3,
    3,
    3,
    3,
    3,
    3,
    1,
    3,
    3,
    3,
    3,
    2,
    2,
    2,
    3,
    1,
    1,
    3,
    2,
    2,
    0,
    3,
    2,
    1,
    2,
    1,
    0,
    3,
    3,
    3,
    2,
    2,
    3,
    2,
    1,
    2,
    0,
    0,
    3,
    3,
    2,
    3,
    3,
    2,
    3,
    3,
    3,
    3,
    3,
    2,
    2,
    2,
    3,
    3,
    3,
    3,
    3,
    1,
    1,
    3,
    2,
    2,
    3,
    1,
    1,
    0,
    1,
    3,
    2,
    3,
    3,
    2,
    3,
    3,
    2,
    3,
    3,
    2,
    2,
    2,
    2,
    3,
    2,
    2,
    2,
    2,
    2,
    1,
    2,
    3,
    3,
    2,
    2,
    2,
    2,
    3,
    3,
    2,
    0,
    2,
    1,
    3,
    3,
    3,
    3,
    0,
    3,
    3,
    3,
    3,
    2,
    2,
    3,
    1,
    3,
    3,
    3,
    2,
    3,
    3,
    3,
    2,
    3,
    3,
    3,
    3,
    2,
    3,
    2,
    1,
    3,
    3,
    3,
    3,
    2,
    2,
    0,
    1,
    2,
    3,
    2,
    0,
    3,
    3,
    3,
    3,
    3,
    3,
    1,
    3,
    3,
    2,
    3,
    2,
    2,
    3,
    3,
    3,
    3,
    3,
    2,
    2,
    3,
    3,
    2,
    2,
    2,
    1,
    3,
    3,
    3,
    3,
    1,
    2,
    3,
    2,
    3,
    3,
    2,
    3,
    2,
    3,
    3,
    3,
    2,
    3,
    1,
    2,
    3,
    2,
    1,
    1,
    3,
    3,
    2,
    3,
    3,
    2,
    3,
    3,
    0,
    0,
    1,
    3,
    3,
    2,
    3,
    3,
    3,
    3,
    1,
    3,
    3,
    0,
    3,
    2,
    3,
    3,
    1,
    3,
    3,
    3,
    3,
    3,
    3,
    3,
    0,
    3,
    3,
    2,
]
DEGREES = [
    11,
    3,
    6,
    5,
    2,
    1,
    2,
    11,
    1,
    3,
    9,
    10,
    10,
    4,
    2,
    1,
    1,
    2,
    1,
    1,
    5,
    2,
    4,
    10,
    3,
    2,
    1,
    1,
    3,
    11,
    2,
    6,
    2,
    9,
    9,
    2,
    6,
    7,
    2,
    5,
    2,
    4,
    3,
    1,
    6,
    11,
    2,
    11,
    3,
    1,
    6,
    3,
    1,
    4,
    5,
    3,
    6,
    1,
    1,
    3,
    1,
    2,
    2,
    1,
    4,
    5,
    1,
    1,
    9,
    1,
    1,
    6,
    4,
    1,
    5,
    1,
    2,
    2,
    3,
    1,
    1,
    5,
    2,
    6,
    1,
    7,
    11,
    1,
    8,
    1,
    5,
    1,
    1,
    2,
    2,
    6,
    4,
    10,
    1,
    2,
    5,
    5,
    5,
    1,
    1,
    4,
    1,
    1,
    1,
    3,
    5,
    5,
    5,
    1,
    4,
    3,
    3,
    5,
    1,
    11,
    3,
    2,
    8,
    1,
    2,
    1,
    1,
    4,
    5,
    2,
    1,
    1,
    1,
    5,
    6,
    11,
    10,
    7,
    4,
    7,
    1,
    5,
    3,
    1,
    1,
    9,
    1,
    2,
    5,
    5,
    2,
    2,
    3,
    10,
    1,
    3,
    2,
    3,
    3,
    1,
    1,
    2,
    1,
    3,
    2,
    2,
    1,
    3,
    8,
    4,
    1,
    11,
    6,
    3,
    1,
    1,
    1,
    1,
    1,
    3,
    1,
    2,
    1,
    10,
    1,
    1,
    8,
    2,
    7,
    1,
    2,
    1,
    9,
    2,
    10,
    2,
    1,
    3,
    4,
    10,
]
SHUFFLES = [
    [6, 4, 9, 3, 10, 5, 7, 8, 1, 2],
    [10, 8, 6, 5, 1, 2, 3, 9, 7, 4],
    [6, 4, 5, 8, 9, 3, 2, 1, 7, 10],
    [7, 3, 5, 1, 10, 9, 4, 8, 2, 6],
    [8, 5, 7, 10, 2, 1, 4, 3, 9, 6],
    [4, 3, 5, 6, 10, 2, 7, 8, 9, 1],
    [5, 1, 3, 9, 4, 6, 2, 10, 7, 8],
    [2, 1, 10, 8, 9, 4, 7, 6, 3, 5],
    [6, 7, 10, 4, 8, 9, 2, 3, 1, 5],
    [10, 2, 1, 7, 9, 5, 6, 3, 4, 8],
]
CHOSEN = [
    [0], [1], [2], [3], [4], [5], [6], [7], [8], [9], [10], [9],
    [2, 5, 6, 8, 9, 10], [8], [1, 5], [1], [0, 2, 4, 5, 8, 10], [5], [2], [2],
    [0, 1, 3, 4, 5, 7, 9, 10], [0, 1, 2, 3, 5, 6, 8, 9, 10], [0, 2, 4, 5, 7, 8, 9, 10],
    [3, 5], [4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [0, 1, 3, 4, 5, 6, 7, 9, 10],
    [6], [5, 6], [7],
]  # fmt: skip
ENCODER_CBOR = [
    "8501091901001a0167aa07581d916ec65cf77cadf55cd7f9cda1a1030026ddd42e905b77adc36e4f2d3c",
    "8502091901001a0167aa07581dcba44f7f04f2de44f42d84c374a0e149136f25b01852545961d55f7f7a",
    "8503091901001a0167aa07581d8cde6d0e2ec43f3b2dcb644a2209e8c9e34af5c4747984a5e873c9cf5f",
    "8504091901001a0167aa07581d965e25ee29039fdf8ca74f1c769fc07eb7ebaec46e0695aea6cbd60b3e",
    "8505091901001a0167aa07581dc4bbff1b9ffe8a9e7240129377b9d3711ed38d412fbb4442256f1e6f59",
    "8506091901001a0167aa07581d5e0fc57fed451fb0a0101fb76b1fb1e1b88cfdfdaa946294a47de8fff1",
    "8507091901001a0167aa07581d73f021c0e6f65b05c0a494e50791270a0050a73ae69b6725505a2ec8a5",
    "8508091901001a0167aa07581d791457c9876dd34aadd192a53aa0dc66b556c0c215c7ceb8248b717c22",
    "8509091901001a0167aa07581d951e65305b56a3706e3e86eb01c803bbf915d80edcd64d4d0000000000",
    "850a091901001a0167aa07581d330f0f33a05eead4f331df229871bee733b50de71afd2e5a79f196de09",
    "850b091901001a0167aa07581d3b205ce5e52d8c24a52cffa34c564fa1af3fdffcd349dc4258ee4ee828",
    "850c091901001a0167aa07581ddd7bf725ea6c16d531b5f03254783803048ca08b87148daacd1cd7a006",
    "850d091901001a0167aa07581d760be7ad1c6187902bbc04f539b9ee5eb8ea6833222edea36031306c01",
    "850e091901001a0167aa07581d5bf4031217d2c3254b088fa7553778b5003632f46e21db129416f65b55",
    "850f091901001a0167aa07581d73f021c0e6f65b05c0a494e50791270a0050a73ae69b6725505a2ec8a5",
    "8510091901001a0167aa07581db8546ebfe2048541348910267331c643133f828afec9337c318f71b7df",
    "8511091901001a0167aa07581d23dedeea74e3a0fb052befabefa13e2f80e4315c9dceed4c8630612e64",
    "8512091901001a0167aa07581dd01a8daee769ce34b6b35d3ca0005302724abddae405bdb419c0a6b208",
    "8513091901001a0167aa07581d3171c5dc365766eff25ae47c6f10e7de48cfb8474e050e5fe997a6dc24",
    "8514091901001a0167aa07581de055c2433562184fa71b4be94f262e200f01c6f74c284b0dc6fae6673f",
]
UR_PARTS = [
    "ur:bytes/1-9/lpadascfadaxcywenbpljkhdcahkadaemejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtdkgslpgh",
    "ur:bytes/2-9/lpaoascfadaxcywenbpljkhdcagwdpfnsboxgwlbaawzuefywkdplrsrjynbvygabwjldapfcsgmghhkhstlrdcxaefz",
    "ur:bytes/3-9/lpaxascfadaxcywenbpljkhdcahelbknlkuejnbadmssfhfrdpsbiegecpasvssovlgeykssjykklronvsjksopdzmol",
    "ur:bytes/4-9/lpaaascfadaxcywenbpljkhdcasotkhemthydawydtaxneurlkosgwcekonertkbrlwmplssjtammdplolsbrdzcrtas",
    "ur:bytes/5-9/lpahascfadaxcywenbpljkhdcatbbdfmssrkzmcwnezelennjpfzbgmuktrhtejscktelgfpdlrkfyfwdajldejokbwf",
    "ur:bytes/6-9/lpamascfadaxcywenbpljkhdcackjlhkhybssklbwefectpfnbbectrljectpavyrolkzczcpkmwidmwoxkilghdsowp",
    "ur:bytes/7-9/lpatascfadaxcywenbpljkhdcavszmwnjkwtclrtvaynhpahrtoxmwvwatmedibkaegdosftvandiodagdhthtrlnnhy",
    "ur:bytes/8-9/lpayascfadaxcywenbpljkhdcadmsponkkbbhgsoltjntegepmttmoonftnbuoiyrehfrtsabzsttorodklubbuyaetk",
    "ur:bytes/9-9/lpasascfadaxcywenbpljkhdcajskecpmdckihdyhphfotjojtfmlnwmadspaxrkytbztpbauotbgtgtaeaevtgavtny",
    "ur:bytes/10-9/lpbkascfadaxcywenbpljkhdcahkadaemejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtwdkiplzs",
    "ur:bytes/11-9/lpbdascfadaxcywenbpljkhdcahelbknlkuejnbadmssfhfrdpsbiegecpasvssovlgeykssjykklronvsjkvetiiapk",
    "ur:bytes/12-9/lpbnascfadaxcywenbpljkhdcarllaluzmdmgstospeyiefmwejlwtpedamktksrvlcygmzemovovllarodtmtbnptrs",
    "ur:bytes/13-9/lpbtascfadaxcywenbpljkhdcamtkgtpknghchchyketwsvwgwfdhpgmgtylctotzopdrpayoschcmhplffziachrfgd",
    "ur:bytes/14-9/lpbaascfadaxcywenbpljkhdcapazewnvonnvdnsbyleynwtnsjkjndeoldydkbkdslgjkbbkortbelomueekgvstegt",
    "ur:bytes/15-9/lpbsascfadaxcywenbpljkhdcaynmhpddpzmversbdqdfyrehnqzlugmjzmnmtwmrouohtstgsbsahpawkditkckynwt",
    "ur:bytes/16-9/lpbeascfadaxcywenbpljkhdcawygekobamwtlihsnpalnsghenskkiynthdzotsimtojetprsttmukirlrsbtamjtpd",
    "ur:bytes/17-9/lpbyascfadaxcywenbpljkhdcamklgftaxykpewyrtqzhydntpnytyisincxmhtbceaykolduortotiaiaiafhiaoyce",
    "ur:bytes/18-9/lpbgascfadaxcywenbpljkhdcahkadaemejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtntwkbkwy",
    "ur:bytes/19-9/lpbwascfadaxcywenbpljkhdcadekicpaajootjzpsdrbalpeywllbdsnbinaerkurspbncxgslgftvtsrjtksplcpeo",
    "ur:bytes/20-9/lpbbascfadaxcywenbpljkhdcayapmrleeleaxpasfrtrdkncffwjyjzgyetdmlewtkpktgllepfrltataztksmhkbot",
]
BYTEWORDS_2_INPUT = bytes([
    245, 215, 20, 198, 241, 235, 69, 59, 209, 205, 165, 18, 150, 158, 116, 135, 229, 212, 19, 159,
    17, 37, 239, 240, 253, 11, 109, 191, 37, 242, 38, 120, 223, 41, 156, 189, 242, 254, 147, 204,
    66, 163, 216, 175, 191, 72, 169, 54, 32, 60, 144, 230, 210, 137, 184, 197, 33, 113, 88, 14,
    157, 31, 177, 46, 1, 115, 205, 69, 225, 150, 65, 235, 58, 144, 65, 240, 133, 69, 113, 247,
    63, 53, 242, 165, 160, 144, 26, 13, 79, 237, 133, 71, 82, 69, 254, 165, 138, 41, 85, 24,
])  # fmt: skip
BYTEWORDS_2_MINIMAL = (
    "yktsbbswwnwmfefrttsnonbgmtnnjyltvwtybwnebydawswtzcbdjnrsdawzdsksurdtnsrywzzemusf"
    "fwottppersfdptencxfnmhvatdldroskcljshdbantctpadmadjksnfevymtfpwmftmhfpwtlpfejsyl"
    "fhecwzonnbmhcybtgwwelpflgmfezeonledtgocsfzhycypf"
)


def make_message(length: int, seed: str = "Wolf") -> bytes:
    """The reference tests' message: ``length`` bytes from Xoshiro256 seeded by ``seed``."""
    return bcur.Xoshiro256.from_data(seed.encode()).next_data(length)


# --- reference vectors -------------------------------------------------------------


def test_crc32() -> None:
    assert bcur.crc32(b"Hello, world!") == 0xEBE6C6E6
    assert bcur.crc32(b"Wolf") == 0x598C84DC


def test_bytewords_example_1() -> None:
    data = bytes([0, 1, 2, 128, 255])
    assert bcur.bytewords_encode(data, "standard") == "able acid also lava zoom jade need echo taxi"
    assert bcur.bytewords_encode(data, "uri") == "able-acid-also-lava-zoom-jade-need-echo-taxi"
    assert bcur.bytewords_encode(data) == "aeadaolazmjendeoti"
    assert bcur.bytewords_decode("aeadaolazmjendeoti") == data
    assert bcur.bytewords_decode("AEADAOLAZMJENDEOTI") == data
    assert bcur.bytewords_decode("able-acid-also-lava-zoom-jade-need-echo-taxi", "uri") == data
    for bad in ("aeadaolazmjendeowf", "wolf", "", "aeadaolazmjendeot"):
        with pytest.raises(bcur.URError):
            bcur.bytewords_decode(bad)


def test_bytewords_example_2() -> None:
    assert bcur.bytewords_encode(BYTEWORDS_2_INPUT) == BYTEWORDS_2_MINIMAL
    assert bcur.bytewords_decode(BYTEWORDS_2_MINIMAL) == BYTEWORDS_2_INPUT


def test_xoshiro_vectors() -> None:
    rng = bcur.Xoshiro256.from_data(b"Wolf")
    assert [rng.next() % 100 for _ in range(100)] == RNG1
    rng = bcur.Xoshiro256.from_data(bcur.crc32(b"Wolf").to_bytes(4, "big"))
    assert [rng.next() % 100 for _ in range(100)] == RNG2
    rng = bcur.Xoshiro256.from_data(b"Wolf")
    assert [rng.next_int(1, 10) for _ in range(100)] == RNG3


def test_random_sampler_vector() -> None:
    sampler = bcur.RandomSampler([1, 2, 4, 8])
    rng = bcur.Xoshiro256.from_data(b"Wolf")
    assert [sampler.next(rng.next_double) for _ in range(500)] == SAMPLES


def test_shuffle_vector() -> None:
    rng = bcur.Xoshiro256.from_data(b"Wolf")
    assert [bcur.shuffled(list(range(1, 11)), rng) for _ in range(10)] == SHUFFLES


def test_fragment_length_and_partition() -> None:
    assert bcur.find_nominal_fragment_length(12345, 1005, 1955) == 1764
    assert bcur.find_nominal_fragment_length(12345, 1005, 30000) == 12345
    message = make_message(1024)
    fragment_len = bcur.find_nominal_fragment_length(len(message), 10, 100)
    fragments = bcur.partition_message(message, fragment_len)
    assert len(fragments) == 11
    assert fragments[0].hex().startswith("916ec65cf77cadf55cd7f9cda1a1030026ddd42e905b77adc36e4f")
    assert fragments[-1].hex().endswith("b66425df00000000000000000000")
    assert b"".join(fragments)[: len(message)] == message


def test_choose_degree_vector() -> None:
    degrees = [
        bcur.choose_degree(11, bcur.Xoshiro256.from_data(f"Wolf-{nonce}".encode()))
        for nonce in range(1, 201)
    ]
    assert degrees == DEGREES


def test_choose_fragments_vector() -> None:
    message = make_message(1024)
    checksum = bcur.crc32(message)
    chosen = [sorted(bcur.choose_fragments(n, 11, checksum)) for n in range(1, 31)]
    assert chosen == CHOSEN


def test_xor_vector() -> None:
    rng = bcur.Xoshiro256.from_data(b"Wolf")
    assert rng.next_data(10).hex() == "916ec65cf77cadf55cd7"
    assert rng.next_data(10).hex() == "f9cda1a1030026ddd42e"


def test_fountain_encoder_vector() -> None:
    encoder = bcur.FountainEncoder(make_message(256), 30)
    parts = [encoder.next_part() for _ in range(20)]
    assert [part.cbor().hex() for part in parts] == ENCODER_CBOR
    assert all(bcur.Part.from_cbor(part.cbor()) == part for part in parts)
    assert parts[0].checksum == 23570951


def test_single_part_ur_vector() -> None:
    encoded = bcur.encode_single(bcur.cbor_bytes(make_message(50)))
    assert encoded == (
        "ur:bytes/hdeymejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtgwdpfnsboxgwlbaawzuefy"
        "wkdplrsrjynbvygabwjldapfcsdwkbrkch"
    )


def test_ur_encoder_vector() -> None:
    encoder = bcur.UREncoder(bcur.cbor_bytes(make_message(256)), 30)
    assert [encoder.next_part() for _ in range(20)] == UR_PARTS


def test_multipart_ur_reference_decode() -> None:
    message = make_message(32767)
    encoder = bcur.UREncoder(bcur.cbor_bytes(message), 1000, first_seq_num=100)
    decoder = bcur.URDecoder()
    while not decoder.done:
        decoder.receive_part(encoder.next_part())
    assert decoder.result is not None
    assert bcur.cbor_unwrap_bytes(decoder.result) == message


# --- round trips with loss and late joins ---------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_round_trip_random_loss_and_join(seed: int) -> None:
    rng = random.Random(seed)
    payload = rng.randbytes(rng.randint(1, 6000))
    loss = rng.choice([0.0, 0.1, 0.3, 0.5])
    encoder = bcur.UREncoder(bcur.cbor_bytes(payload), rng.randint(20, 400))
    seq_len = encoder.fountain.seq_len
    for _ in range(rng.randrange(0, 3 * seq_len + 1)):  # the receiver joins late
        encoder.next_part()
    decoder = bcur.URDecoder()
    shown = 0
    while not decoder.done:
        part = bcur.qr_text(encoder.next_part())
        shown += 1
        assert shown < 50 * seq_len + 100
        if rng.random() >= loss:
            decoder.receive_part(part)
    assert decoder.result is not None
    assert bcur.cbor_unwrap_bytes(decoder.result) == payload
    assert decoder.fountain.received >= seq_len


def test_counting_decoder_matches_real_decoder() -> None:
    rng = random.Random(7)
    payload = rng.randbytes(20_000)
    encoder = bcur.FountainEncoder(bcur.cbor_bytes(payload), 200)
    stream = [encoder.next_part() for _ in range(600)]
    for _ in range(10):
        start, kept = rng.randrange(200), [p for p in stream if rng.random() > 0.3]
        real, counting = bcur.FountainDecoder(), bcur.FountainDecoder()
        for part in kept[start:]:
            real.receive_part(part)
            counting.receive(*part.header(), None)
            assert real.done == counting.done
            if real.done:
                break
        assert real.done and real.received == counting.received
        assert real.result == bcur.cbor_bytes(payload)


def test_corrupt_and_foreign_parts_skipped() -> None:
    one = bcur.UREncoder(bcur.cbor_bytes(b"a" * 500), 50)
    other = bcur.UREncoder(bcur.cbor_bytes(b"b" * 700), 50)
    decoder = bcur.URDecoder()
    first = one.next_part()
    decoder.receive_part(first)
    assert not decoder.receive_part(first[:-2] + ("ae" if first[-2:] != "ae" else "ad"))
    assert not decoder.receive_part("ur:crypto-psbt/1-2/lpadao")
    assert not decoder.receive_part(other.next_part())  # a different message
    while not decoder.done:
        decoder.receive_part(one.next_part())
    assert bcur.cbor_unwrap_bytes(decoder.result or b"") == b"a" * 500
    assert decoder.rejected == 2


def test_fragment_length_fits_qr_characters() -> None:
    for chars in (395, 1249, 1853):
        for message_len in (3000, 50_000, 600_000):
            fragment = bcur.max_fragment_len_for(chars, message_len)
            nominal = bcur.find_nominal_fragment_length(message_len, 10, fragment)
            seq_len = -(-message_len // nominal)
            longest = bcur.part_length(message_len, nominal, 99_999, seq_len)
            assert longest <= chars
            encoder = bcur.UREncoder(bytes(message_len), fragment)
            assert len(encoder.next_part()) <= chars


class ReferenceOrderDecoder:
    """A line-by-line port of the reference decoder on index sets: slow, std::map order.

    The fast decoder in bench/bcur.py skips sorting where the order cannot
    change the outcome; this oracle keeps every ordering of the C++ code.
    """

    def __init__(self, k: int, checksum: int) -> None:
        self.k, self.checksum = k, checksum
        self.simple: set[int] = set()
        self.mixed: dict[tuple[int, ...], frozenset[int]] = {}
        self.queue: deque[frozenset[int]] = deque()
        self.done, self.count = False, 0

    def receive(self, seq_num: int) -> None:
        self.queue.append(bcur.choose_fragments(seq_num, self.k, self.checksum))
        while not self.done and self.queue:
            part = self.queue.popleft()
            self._simple(part) if len(part) == 1 else self._mixed(part)
        self.count += 1

    @staticmethod
    def _reduce(a: frozenset[int], b: frozenset[int]) -> frozenset[int]:
        return a - b if b != a and b <= a else a

    def _reduce_mixed_by(self, part: frozenset[int]) -> None:
        new: dict[tuple[int, ...], frozenset[int]] = {}
        for key in sorted(self.mixed):
            reduced = self._reduce(self.mixed[key], part)
            if len(reduced) == 1:
                self.queue.append(reduced)
            else:
                new.setdefault(tuple(sorted(reduced)), reduced)
        self.mixed = new

    def _simple(self, part: frozenset[int]) -> None:
        (index,) = part
        if index in self.simple:
            return
        self.simple.add(index)
        if len(self.simple) == self.k:
            self.done = True
        else:
            self._reduce_mixed_by(part)

    def _mixed(self, part: frozenset[int]) -> None:
        if tuple(sorted(part)) in self.mixed:
            return
        for index in sorted(self.simple):
            part = self._reduce(part, frozenset((index,)))
        for key in sorted(self.mixed):
            part = self._reduce(part, self.mixed[key])
        if len(part) == 1:
            self.queue.append(part)
        else:
            self._reduce_mixed_by(part)
            self.mixed.setdefault(tuple(sorted(part)), part)


@pytest.mark.parametrize("seed", range(25))
def test_fast_decoder_matches_reference_order(seed: int) -> None:
    rng = random.Random(seed)
    k, checksum = rng.randint(2, 80), rng.getrandbits(32)
    loss, position = rng.choice([0.0, 0.1, 0.3]), rng.randrange(3 * k)
    oracle, fast = ReferenceOrderDecoder(k, checksum), bcur.FountainDecoder()
    while not (oracle.done or fast.done):
        position += 1
        if rng.random() >= loss:
            oracle.receive(position)
            fast.receive(position, k, 1000, checksum, None)
    assert (oracle.done, oracle.count) == (fast.done, fast.received)
