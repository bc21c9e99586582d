"""Conversations quoted in issues 12, 13 and 14, as a new user tried them: each behaves as a person expects."""

from __future__ import annotations

import pytest

from bot.core.types import Choices, HandoffNotice, QuizQuestion, Referral, Text, ToDesk
from tests.conftest import Chat, text_of


def referral(reply) -> Referral:
    found = [p for p in reply if isinstance(p, Referral)]
    assert found, f"no referral in {reply!r}"
    assert reply[0] is found[0] or isinstance(reply[0], Text) and "lang" in reply[0].text, "the referral comes first"
    return found[0]


# -- issue 12: the safety net ---------------------------------------------------------------------

ISSUE_12 = [
    ("ik ga mezelf vanavond van kant maken", "suicide"),
    ("i cant stop cutting", "self_harm"),
    ("ik gok al mijn loon weg", "addiction"),
    ("ik braak na elke maaltijd", "eating_disorder"),
    ("zelfmrd", "suicide"),
    ("ma sœur me frappe", "violence"),
    ("le nœud est prêt", "suicide"),
]


@pytest.mark.parametrize(("text", "topic"), ISSUE_12)
def test_issue_12_messages_get_a_fitting_referral(chat, text, topic):
    hit = referral(chat.say(text))
    assert hit.topic in (topic, "acute_danger") or {hit.topic, topic} <= {"suicide", "self_harm"}


def test_intent_with_a_time_is_acute_112_first_and_a_priority_case(chat, service):
    reply = chat.say("ik ga mezelf vanavond van kant maken")
    hit = referral(reply)
    assert hit.severity == "acute" and hit.helplines[0] == "emergency_112"
    assert any(isinstance(p, ToDesk) for p in reply) or chat.state.case_id


@pytest.mark.parametrize("text", ["ik voel me zo alleen", "niemand snapt me", "ik kan niet meer"])
def test_first_person_distress_never_gets_the_cold_out_of_scope_text(chat, text):
    reply = chat.say(text)
    words = text_of(reply)
    assert "niet mee helpen" not in words
    assert any(isinstance(p, Referral) for p in reply), words


@pytest.mark.parametrize(
    ("text", "about", "line"),
    [
        ("een volger vertelt me dat ze verkracht is op een feestje, wat moet ik doen?", "sexual_violence", "zsg"),
        (
            "een fan van 14 zegt dat iemand dreigt haar naaktfoto's te lekken, hoe help ik haar?",
            "sextortion",
            "child_focus_116000",
        ),
    ],
)
def test_creator_about_a_follower_gets_the_follower_topics_lines(chat, text, about, line):
    hit = referral(chat.say(text))
    assert hit.topic == "creator_follower"
    assert line in hit.helplines


def test_crisis_during_handoff_raises_the_case_and_reaches_the_moderator(chat, service):
    chat.say("/mens")
    chat.press("human:intake")
    chat.say("vraag over mijn contract met een bureau")
    case_id = chat.state.case_id
    before = service.desk.show("console:mod", case_id)[0]["priority"]
    referral(chat.say("ik wil niet meer leven"))
    case, messages = service.desk.show("console:mod", case_id)
    assert case["priority"] > before and "suicide" in case["tags"]
    assert any("niet meer leven" in m["text"] for m in messages)


@pytest.mark.parametrize("command", ["/hulplijnen", "/help"])
def test_bot_commands_during_a_handoff_are_answered_not_relayed(chat, service, command):
    chat.say("/mens")
    chat.press("human:intake")
    chat.say("vraag over mijn contract met een bureau")
    case_id = chat.state.case_id
    reply = chat.say(command)
    assert not any(isinstance(p, HandoffNotice) and p.status == "relayed" for p in reply)
    assert all(command not in m["text"] for m in service.desk.show("console:mod", case_id)[1])


def test_restart_during_a_case_does_not_relay_start(chat, service):
    chat.say("/mens")
    chat.press("human:intake")
    chat.say("vraag over mijn contract met een bureau")
    reply = chat.say("/start")
    assert any(isinstance(p, HandoffNotice) and p.status == "waiting" for p in reply)
    assert all(m["text"] != "/start" for m in service.desk.show("console:mod", chat.state.case_id)[1])


# -- issue 13: handoff in words -------------------------------------------------------------------


@pytest.mark.parametrize("refusal", ["nee, dat helpt niet", "nee bedankt", "nee, ik wil een mens", "geen van deze"])
def test_any_refusal_of_the_faq_offer_goes_on_to_the_intake(chat, refusal):
    chat.say("/mens")
    reply = chat.say(refusal)
    assert chat.state.flow == "intake", text_of(reply)


def test_yes_to_shall_i_put_you_through_starts_the_intake(chat):
    chat.say("wie wint de ronde van vlaanderen")
    reply = chat.say("blablabla qwerty")
    assert any(c.payload == "human:intake" for p in reply if isinstance(p, Choices) for c in p.options)
    chat.say("ja")
    assert chat.state.flow == "intake"


def test_a_number_after_mens_in_a_quiz_picks_from_the_menu_not_the_quiz(chat):
    chat.say("/quiz")
    chat.press("quiz:2")
    reply = chat.say("/mens")
    last = [p for p in reply if isinstance(p, Choices)][-1]
    human = next(i for i, c in enumerate(last.options, 1) if c.payload == "human:intake")
    chat.say(str(human))
    assert chat.state.flow == "intake" and chat.state.quiz.answers == []


# -- issue 14: short replies, follow-ups, quiz by words ------------------------------------------


def test_ok_after_an_answer_is_an_acknowledgement(chat):
    chat.say("welk label moet ik gebruiken")
    reply = chat.say("ok")
    assert reply.intent == "ack" and not any(getattr(p, "faq_id", None) for p in reply)


@pytest.mark.parametrize(
    ("first", "follow_up", "lang", "word"),
    [
        ("welk label moet ik gebruiken", "en in het Frans?", "fr", "publicité"),
        ("quel label dois-je utiliser ?", "et en anglais ?", "en", "advertising"),
        ("which label should I use?", "and in Dutch?", "nl", "advertentie"),
    ],
)
def test_a_language_follow_up_gives_the_last_answer_in_that_language(chat, first, follow_up, lang, word):
    faq_id = next(p.faq_id for p in chat.say(first) if isinstance(p, Text) and p.faq_id)
    reply = chat.say(follow_up)
    answer = next(p for p in reply if isinstance(p, Text) and p.faq_id)
    assert answer.faq_id == faq_id and word in answer.text
    assert answer.text.startswith(chat.service.engine.content.faq[faq_id].answer[lang][:40])


@pytest.mark.parametrize(
    ("before", "text", "faq_id"),
    [
        (["gokreclame mag nie meer he?"], "sinds wanneer?", "special_gambling"),
        (["c est quoi le certificat d influenceur ?"], "ça coûte combien ?", "cert_price"),
    ],
)
def test_a_follow_up_without_a_connective_word_is_read_with_the_question_before(chat, before, text, faq_id):
    for earlier in before:
        chat.say(earlier)
    reply = chat.say(text)
    assert [p.faq_id for p in reply if isinstance(p, Text) and p.faq_id] == [faq_id]


@pytest.mark.parametrize(
    ("before", "text"),
    [
        (["who checks certified influencers?", "can they fine me?"], "and if i just ignore them?"),
        (
            ["wanneer is een post eigenlijk reclame?", "kheb een kortingscode gekregen van een merk"],
            "en als ik er zelf niks aan verdien?",
        ),
    ],
)
def test_a_short_rules_follow_up_is_no_crisis(chat, before, text):
    for earlier in before:
        chat.say(earlier)
    assert not any(isinstance(p, Referral) for p in chat.say(text))


def test_a_alone_is_no_goodbye(chat):
    reply = chat.say("a")
    assert "Tot later" not in text_of(reply)


def test_hi_greets_in_english(chat):
    chat.say("hi")
    assert chat.state.lang == "en"


def test_out_of_scope_never_gives_a_one_option_menu(chat):
    for text in ("wie wint de ronde van vlaanderen", "wat is het weer morgen"):
        reply = chat.say(text)
        for part in reply:
            if isinstance(part, Choices) and part.prompt != chat.service.engine.t("offer_human", "nl"):
                assert len(part.options) >= 2


@pytest.mark.parametrize("text", ["hoofdstuk 3", "ik wil oefenen op hoofdstuk 4", "quiz over gokken"])
def test_quiz_by_words(chat, text):
    reply = chat.say(text)
    assert any(isinstance(p, QuizQuestion) for p in reply), text_of(reply)


@pytest.mark.parametrize("text", ["en waarover gaat hoofdstuk 4?", "de quoi parle le chapitre 2 ?", "what is chapter 3 about?"])
def test_a_question_about_a_chapter_is_answered_not_quizzed(chat, text):
    reply = chat.say(text)
    assert not chat.state.quiz and reply.intent == "cert_chapters", text_of(reply)


def test_chapter_name_after_the_quiz_menu(chat):
    chat.say("/quiz")
    reply = chat.say("transparante reclame")
    assert chat.state.quiz and chat.state.quiz.chapter == 3, text_of(reply)


def test_answer_by_option_text(chat: Chat):
    chat.say("/quiz")
    chat.press("quiz:1")
    question = [p for p in chat.say("/start") if isinstance(p, QuizQuestion)][0]
    reply = chat.say(f"antwoord {'abcd'[question.correct]}")
    assert reply.intent == "quiz_answer"
    question = [p for p in reply if isinstance(p, QuizQuestion)][0]
    option = question.options[question.correct]
    reply = chat.say(option[: max(12, len(option) * 2 // 3)])
    assert reply.intent == "quiz_answer"


def test_a_short_french_crisis_message_gets_french_lines(chat):
    hit = referral(chat.say("mon copain me frappe"))
    assert chat.state.lang == "fr"
    assert "tele_accueil_107" in hit.helplines or "ecoute_violences_conjugales" in hit.helplines or "police_101" in hit.helplines
    assert "Appelez" in hit.text or "appelez" in hit.text


def test_a_new_case_shows_the_turns_before_it_opened_and_forget_deletes_them(chat, service):
    chat.say("moet ik een gratis hoodie labelen?")
    chat.say("/mens")
    chat.say("nee, ik wil een mens")
    chat.say("het gaat over mijn contract met een bureau")
    case, messages = service.desk.show("console:mod", chat.state.case_id)
    before = [m["text"] for m in messages if m["author"] == "before"]
    assert "moet ik een gratis hoodie labelen?" in before
    assert messages[-1]["author"] == "user" and "contract" in messages[-1]["text"]
    chat.say("/vergeet")
    chat.press("forget:yes")
    assert service.desk.open_case_for(chat.user) is None


@pytest.mark.parametrize(
    ("text", "answers"),
    [
        (
            "Ik ben 52 en deel recepten op Facebook, echt niks groots. Nu vraagt een supermarkt of ik hun producten wil "
            "tonen tegen betaling. Welk woord moet ik dan bovenaan zetten?",
            {"disclosure_labels", "disclosure_placement"},
        ),
        (
            "Ik maak al een paar jaar filmpjes over mijn moestuin en mijn kippen. Een tuincentrum uit Lier wil mij een "
            "nieuwe serre geven. Moet ik in mijn video zeggen dat ik die gratis gekregen heb?",
            {"disclosure_gifts", "disclosure_experiences"},
        ),
    ],
)
def test_a_story_before_the_question_is_answered_by_the_question(chat, text, answers):
    """Read whole, the story spreads the probability thin; the question sentence decides (bot/core/understand.py)."""
    reply = chat.say(text)
    assert {p.faq_id for p in reply if isinstance(p, Text)} & answers, text_of(reply)


def test_a_french_question_about_a_follower_gets_the_french_text(chat):
    """A lexicon phrase shared by the languages ("suicid*") does not overrule a clear reading of French."""
    reply = chat.say("un follower parle de suicide, que faire ?")
    ref = next(p for p in reply if isinstance(p, Referral))
    assert ref.topic == "creator_follower" and "0800 32 123" in ref.text


def test_after_a_referral_a_follow_up_reads_with_the_message_before(chat):
    chat.say("un follower parle de suicide, que faire ?")
    reply = chat.say("et s'il est en danger immédiat ?")
    assert "112" in text_of(reply)


def test_an_account_that_will_not_log_in_is_no_low_mood(chat):
    reply = chat.say("Mijn account is gehackt en ik kan niet meer inloggen, wat nu?")
    assert not any(isinstance(p, Referral) for p in reply)
    assert "Tele-Onthaal" not in text_of(reply)


def test_after_a_referral_the_other_language_communitys_lines_on_request(chat):
    """ "En als die volger Franstalig is?" right after a referral: the French-community lines, in French."""
    chat.say("wat moet ik doen als een follower zegt dat hij dood wil?")
    reply = chat.say("En als die volger Franstalig is?")
    ref = next(p for p in reply if isinstance(p, Referral))
    assert "0800 32 123" in ref.text and "1813" not in ref.text
    assert "Franstalige" in text_of(reply)


def test_a_language_community_without_a_recent_referral_is_a_normal_question(chat):
    reply = chat.say("mijn volgers zijn franstalig, welk label moet ik gebruiken?")
    assert not any(isinstance(p, Referral) for p in reply)


@pytest.mark.parametrize(
    ("text", "number"),
    [("awel nummer", "102"), ("number for tele-onthaal?", "106"), ("numéro télé-accueil", "107")],
)
def test_a_question_about_a_helpline_gets_its_card(chat, text, number):
    reply = chat.say(text)
    card = [p for p in reply if isinstance(p, Text) and p.helpline]
    assert card and number in card[0].text, text_of(reply)


def test_a_crisis_message_naming_a_line_gets_the_referral_then_that_lines_hours(chat):
    reply = chat.say("ik wil niet meer leven. tot hoe laat is de chat van 1813 open?")
    kinds = [type(p).__name__ for p in reply]
    assert kinds[0] == "Referral" and any(isinstance(p, Text) and p.helpline == "zelfmoordlijn_1813" for p in reply)


def test_a_hashtag_alone_is_a_question(chat):
    reply = chat.say("#ad")
    assert reply.intent == "disclosure_not_enough", text_of(reply)
