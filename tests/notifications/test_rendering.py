import pytest

from notifications.choices import Channel
from notifications.events import Event
from notifications.rendering import message_render

FULL_CONTEXT = {
    "filing_id": 12,
    "filing_number": "BA51010020260301" + "12345678",
    "group": "retiree",
    "destination_name": "三亚市",
    "review_deadline": "2026-03-02",
    "start_date": "2026-03-01",
    "end_date": "2026-09-01",
    "all_institutions": True,
    "reason": "材料不清晰",
    "hint": "请重新上传",
    "days_left": 3,
    "institution_name": "北京协和医院",
    "institution_code": "H11010100001",
    "used_at": "2026-03-01T02:30:00+00:00",
    "scene": "settlement",
    "settlement_id": 5,
    "settlement_number": "JS20260301000000123456",
    "total": "1234.50",
    "person_pays": "200.00",
}
CHANNELS = [c.value for c in Channel]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("event", [e.value for e in Event])
def test_every_event_renders_on_every_channel_in_both_languages(event, channel, language):
    for context in (FULL_CONTEXT, {}):
        message = message_render(event=event, channel=channel, language=language, context=context)
        assert message.body
        assert "{{" not in message.text and "{%" not in message.text
        if channel != Channel.SMS:
            assert message.title
        if channel == Channel.SMS:
            assert "\n" not in message.body and len(message.body) <= 140


@pytest.mark.parametrize("event", [e.value for e in Event])
def test_chinese_and_english_texts_differ(event):
    zh = message_render(event=event, channel="inbox", language="zh-hans", context=FULL_CONTEXT)
    en = message_render(event=event, channel="inbox", language="en", context=FULL_CONTEXT)
    assert zh.title != en.title
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.title)
    assert en.title.isascii()


def test_unknown_language_falls_back_to_chinese():
    message = message_render(event="ecode_activated", channel="inbox", language="fr", context={})
    assert message.title == "医保电子凭证已激活"


def test_use_time_is_shown_in_china_time_with_the_institution():
    message = message_render(event="ecode_used", channel="inbox", language="zh-hans", context=FULL_CONTEXT)
    assert message.body.startswith(
        "您的医保电子凭证于2026年3月1日 10:30在北京协和医院（H11010100001）用于费用结算。"
    )
    assert "如非本人使用" in message.body

    english = message_render(event="ecode_used", channel="sms", language="en", context=FULL_CONTEXT)
    assert "at 北京协和医院 on 1 Mar 2026, 10:30. Not you?" in english.body


def test_rejection_shows_reason_and_how_to_fix_it():
    message = message_render(event="filing_rejected", channel="inbox", language="en", context=FULL_CONTEXT)
    assert "Reason: 材料不清晰" in message.body and "How to fix it: 请重新上传" in message.body


def test_approval_says_what_it_now_allows():
    zh = message_render(event="filing_approved", channel="inbox", language="zh-hans", context=FULL_CONTEXT)
    assert "有效期：2026年3月1日起至2026年9月1日" in zh.body
    assert "三亚市所有开通跨省直接结算的定点医药机构均可直接结算" in zh.body

    chosen = message_render(
        event="filing_approved",
        channel="inbox",
        language="en",
        context={**FULL_CONTEXT, "all_institutions": False},
    )
    assert "Settle at the designated institutions you chose." in chosen.body


def test_text_is_not_html_escaped():
    message = message_render(
        event="ecode_suspended", channel="sms", language="en", context={"reason": "ID & <phone> check"}
    )
    assert "ID & <phone> check" in message.body


def test_submitted_shows_the_review_deadline():
    message = message_render(
        event="filing_submitted", channel="sms", language="zh-hans", context=FULL_CONTEXT
    )
    assert (
        message.body
        == "您的异地就医备案（编号BA5101002026030112345678）已提交，将于2026年3月2日前完成审核。结果会另行通知。"
    )


@pytest.mark.parametrize(
    ("scene", "zh", "en"),
    [("pharmacy", "用于购药", "for buying medicine"), ("clinic", "用于就医", "for a visit")],
)
def test_use_at_an_institution_names_what_it_was_used_for(scene, zh, en):
    context = {"institution_name": "同仁堂", "scene": scene}
    assert zh in message_render(event="ecode_used", channel="inbox", language="zh-hans", context=context).body
    assert en in message_render(event="ecode_used", channel="inbox", language="en", context=context).body


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("event", [e.value for e in Event])
def test_notices_name_the_filing_and_settlement_by_their_numbers_never_by_database_ids(
    event, channel, language
):
    context = {**FULL_CONTEXT, "filing_id": 987654, "settlement_id": 876543}
    text = message_render(event=event, channel=channel, language=language, context=context).text
    assert "987654" not in text and "876543" not in text
    if event.startswith("filing_"):
        assert FULL_CONTEXT["filing_number"] in text
    if event.startswith("settlement_") and (channel != "sms" or event == "settlement_reversed"):
        assert FULL_CONTEXT["settlement_number"] in text
