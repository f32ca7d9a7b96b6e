"""Masking stars out personal numbers and addresses, and leaves their look-alikes alone."""

from __future__ import annotations

import pytest

from xiaozhi_server.privacy.masking import MASK_KINDS, Masker

EVERYTHING = Masker(MASK_KINDS)


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("我的手机号是13812345678，记一下", "我的手机号是138****5678，记一下"),
        ("打 199 0000 1234 找我", "打 199 **** 1234 找我"),
        ("妈妈的电话 159-1234-5678。", "妈妈的电话 159-****-5678。"),
        ("call +86 138 1234 5678 please", "call +86 *** **** 5678 please"),
        ("office +1 (415) 555-2671", "office +1 (4**) ***-2671"),
        ("London +44 20 7946 0958", "London +44 ** **** 0958"),
    ],
)
def test_phone_numbers_are_masked_keeping_prefix_and_last_four(said: str, shown: str) -> None:
    assert Masker(["phone"]).text(said) == shown


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("身份证号11010519491231002X", "身份证号110***********002X"),
        ("ID 440305199003071236 ok", "ID 440***********1236 ok"),
        ("号码是320102200101014567", "号码是320***********4567"),
    ],
)
def test_resident_id_numbers_with_a_right_check_character_are_masked(said: str, shown: str) -> None:
    assert Masker(["id_card"]).text(said) == shown


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("卡号6222021234567894", "卡号6222********7894"),
        ("card 6228480012345678911 thanks", "card 6228***********8911 thanks"),
        ("Visa 4559 5212 3456 7891", "Visa 4559 **** **** 7891"),
        ("MC 5500-0000-0000-0004", "MC 5500-****-****-0004"),
    ],
)
def test_luhn_valid_card_numbers_are_masked_keeping_first_and_last_four(
    said: str, shown: str
) -> None:
    assert Masker(["bank_card"]).text(said) == shown


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("发到 zhang.san@example.com 吧", "发到 z********@example.com 吧"),
        ("li_si+news@mail.example.cn", "l*********@mail.example.cn"),
        ("邮箱:Wang@Example.ORG。", "邮箱:W***@Example.ORG。"),
    ],
)
def test_email_addresses_are_masked_keeping_the_first_letter_and_domain(
    said: str, shown: str
) -> None:
    assert Masker(["email"]).text(said) == shown


@pytest.mark.parametrize(
    "said",
    [
        "订单号 202311281234567890 已发货",  # 18 digits: no birth date, no card range
        "订单号20231128123456789012",  # a phone-like run inside a longer number
        "流水号 8613812345678901",
        "时间戳 1701158400 和 1701158400123",  # epoch seconds and milliseconds
        "2023-11-28 13:45:12 提醒我",
        "编号 12345678901234567",  # 17 digits
        "身份证 110105194912310021",  # wrong check character (should be X)
        "身份证 110105194913310028",  # no 13th month
        "卡号 4111111111111112",  # fails Luhn
        "卡号 12345678901234569",  # passes Luhn, but no card starts with 1
        "价格 ¥1,380.00，折后 13812345678.50 元",
        "型号 A13812345678 和 13812345678B",
        "版本 v1.13812345678",
        "@小智 你好",
        "user@localhost 和 a@b",
        "比分 +3，温度 +22°C，时区 +08:00",
    ],
)
def test_look_alikes_are_left_as_they_are(said: str) -> None:
    assert EVERYTHING.text(said) == said


def test_only_the_chosen_kinds_are_masked() -> None:
    said = "13812345678 / zhang@example.com"
    assert Masker(["email"]).text(said) == "13812345678 / z****@example.com"
    assert Masker(["phone"]).text(said) == "138****5678 / zhang@example.com"


def test_no_kinds_masks_nothing_and_is_false() -> None:
    masker = Masker([])
    assert not masker
    assert masker.text("13812345678") == "13812345678"


def test_masked_text_keeps_its_length_so_positions_still_match() -> None:
    said = "电话13812345678，卡4559521234567891，邮件zhang.san@example.com，证11010519491231002X"
    shown = EVERYTHING.text(said)
    assert len(shown) == len(said)
    assert "5678" in shown
    assert shown.count("*") > 20


def test_decoded_json_is_masked_strings_and_numbers_alike() -> None:
    arguments = {"phone": 13812345678, "note": "call 13812345678", "count": 3, "ok": True}
    assert Masker(["phone"]).json(arguments) == {
        "phone": "138****5678",
        "note": "call 138****5678",
        "count": 3,
        "ok": True,
    }


def test_a_very_long_text_is_masked_in_one_pass() -> None:
    said = "13812345678 " * 5000 + "a@" + "b." * 20000
    shown = EVERYTHING.text(said)
    assert shown.count("138****5678") == 5000
