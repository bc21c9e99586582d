"""Understanding: answer the likely question first, offer a menu only when two are close, read follow-ups in context."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.core import commands, crisis, flows, practice, texts
from bot.core.nlu import SYSTEM_INTENTS, Prediction
from bot.core.safety import GUIDANCE_TOPICS
from bot.core.text import normalize
from bot.core.types import Choice, Choices, Reply, State, Text

if TYPE_CHECKING:
    from bot.core.pipeline import Engine, Turn

ANSWER_MIN = 0.15  # answer the best FAQ candidate at or above this probability (calibrated on the dev sets) ...
CLEAR_MARGIN = 0.01  # ... unless the runner-up is practically tied: then show both
MENU_MIN = 0.15  # a candidate below this is not worth offering
ALT_MIN = 0.12  # "Niet wat je zocht?" alternatives under an answer
OOS_SURE = 0.65  # out of scope below this probability ... (both calibrated on the dev sets)
OOS_RUNNER_UP = 0.3  # ... with a FAQ runner-up at or above this: answer the runner-up
SENTENCE_UNSURE = 0.3  # a long message read below this (or as out of scope) is also read by its question sentence
SENTENCE_MIN_WORDS = 10
QUESTION_MIN_WORDS = 5  # a shorter question sentence ("Moet dat?") is read only with the sentence before it
_SENTENCE = re.compile(r"(?<=[.?!…])\s+|\n+")
MISSES_BEFORE_HUMAN = 2
SAFE_POSTING = "safe_posting"  # the FAQ entry a creator's content guidance belongs to
FOLLOW_UP_WORDS = 7
_FOLLOW_UP = re.compile(
    r"^(?:en|and|et|ook|aussi|also|maar|mais|but|what about|what if|wat met|wat als|et si|and if|en als|en voor|et pour|and for|"
    r"en op|et sur|and on|en bij|geldt|is dat|c est|en wat|et quoi|and what|pour|voor|op|sur|on|in)\b"
)
_LANGUAGE_ASKED = re.compile(
    r"^(?:en |and |et |ook |aussi |also |maar |mais |but )?(?:wat |what |quoi )?(?:in (?:het )?|en |in )?"
    r"(frans|nederlands|vlaams|engels|francais|neerlandais|flamand|anglais|french|dutch|flemish|english)"
    r"(?: dan| alors| then| ook| aussi| too)?$"
)
LANGUAGE_NAMES = {
    "frans": "fr", "francais": "fr", "french": "fr",
    "nederlands": "nl", "vlaams": "nl", "neerlandais": "nl", "flamand": "nl", "dutch": "nl", "flemish": "nl",
    "engels": "en", "anglais": "en", "english": "en",
}  # fmt: skip
COMMUNITY_WORDS = 12
_COMMUNITY_ASKED = re.compile(
    r"\b(franstalig\w*|frans spreekt|spreekt frans|francophone\w*|parle francais|parle que francais|speaks french|"
    r"only speaks french|french speaking|nederlandstalig\w*|spreekt nederlands|neerlandophone\w*|parle neerlandais|"
    r"speaks dutch|dutch speaking|vlaming|flamand\w*)\b"
)
ANAPHORA = {"dat", "da", "dit", "daar", "daarvoor", "daarmee", "that", "this", "it", "them", "ca", "cela", "dedans", "meme"}
QUIZ_WORDS = re.compile(r"\b(?:quiz|oefen\w*|hoofdstuk|chapitre|chapter|entrainer|practi[cs]e)\b")
PRACTICE_WORDS = re.compile(r"\b(?:quiz\w*|oefen\w*|test\w*|entrain\w*|practi[cs]\w*|revis\w*)\b")
# "waarover gaat hoofdstuk 4?", "de quoi parle le chapitre 2 ?": a question about a chapter, not a quiz request
CHAPTER_ASKED = re.compile(
    r"\b(?:waarover|over wat|wat (?:staat|leer|zit|vind)|welke onderwerpen|de quoi|parle de quoi|qu y a t il|what is"
    r"|what s|whats|about what|what does)\b"
)
ACKS = {
    "ok",
    "oke",
    "okay",
    "okido",
    "oki",
    "k",
    "kk",
    "top",
    "cool",
    "nice",
    "super",
    "prima",
    "goed",
    "chill",
    "d accord",
    "dac",
    "parfait",
    "great",
    "alright",
    "fine",
    "ah ok",
    "ah oke",
    "oke top",
    "ok merci",
}
ACK_WORDS = {w for ack in ACKS for w in ack.split() if len(w) > 1} | {"d", "aha", "thanks", "bedankt", "right"}  # "oké, en…"
GREETINGS = {
    "hi": "en",
    "hello": "en",
    "hey there": "en",
    "bonjour": "fr",
    "salut": "fr",
    "coucou": "fr",
    "bonsoir": "fr",
    "hallo": "nl",
    "hoi": "nl",
    "dag": "nl",
    "hey": None,
    "yo": None,
}


def step(engine: Engine, turn: Turn) -> bool:
    state, reply, text, t = turn.state, turn.reply, turn.text, engine.t
    norm = normalize(text)
    if not text or not norm:
        reply.append(Text(t("empty" if not text else "no_words", state.lang)))
        reply.append(texts.main_menu(t, state.lang))
        return True
    hit = turn.crisis(engine)
    if hit and hit.topic in GUIDANCE_TOPICS:  # "ik maak een reel over zelfdoding, hoe doe ik dat veilig?"
        guidance(engine, hit.topic, hit.lang, state, reply)
        return True
    if norm in GREETINGS and not state.lang_fixed and GREETINGS[norm]:
        state.lang = GREETINGS[norm] or state.lang
    if norm in ACKS or (norm in flows.YES | flows.NO and not state.offered):
        reply.intent, reply.confidence = "ack", 1.0
        reply.append(Text(t("ack", state.lang)))
        return True
    if len(norm) <= 2 and norm not in GREETINGS and not text.strip().startswith("#"):  # "#ad" is a question
        reply.append(Text(t("too_short", state.lang)))
        reply.append(texts.main_menu(t, state.lang))
        return True
    asked = _LANGUAGE_ASKED.match(norm)
    if asked and state.last_faq in engine.content.faq:  # "welk label?" then "en in het Frans?": that answer in French
        reply.intent, reply.confidence = state.last_faq, 1.0
        answer_faq(engine, state.last_faq, state, reply, alternatives=[], lang=LANGUAGE_NAMES[asked.group(1)])
        return True
    if _other_community(engine, norm, state, reply):
        return True
    if _helpline_card(engine, text, state, reply):
        return True
    chapter = practice.chapter_in(engine, text) if _wants_quiz(engine, norm, state) else None
    if chapter is not None:
        reply.intent, reply.confidence = "quiz", 1.0
        practice.start(engine, state, reply, "quiz", chapter)
        return True
    prediction = _by_sentence(engine, text, norm, _predict_in_context(engine, text, norm, state))
    reply.intent, reply.confidence = prediction.intent, prediction.confidence
    state.last_question = text[:200]
    decide(engine, prediction, state, reply)
    return True


def _other_community(engine: Engine, norm: str, state: State, reply: Reply) -> bool:
    """ "wat moet ik doen als een volger dood wil?" then "en als die volger Franstalig is?": right after a referral,
    the same topic's lines for the language community asked about."""
    community = _COMMUNITY_ASKED.search(norm) if len(norm.split()) <= COMMUNITY_WORDS else None
    last = max(state.referral_at, key=state.referral_at.__getitem__, default=None)
    if not community or last is None or engine.clock() - state.referral_at[last] >= crisis.REFERRAL_COOLDOWN:
        return False
    other, t = ("fr" if re.search("fran|french", community.group(1)) else "nl"), engine.t
    reply.intent, reply.confidence = f"referral:{other}", 1.0
    reply.append(Text(t("other_community", state.lang, community=t(f"community_{other}", state.lang))))
    reply.append(engine.referrals.render(last, other))
    return True


def _helpline_card(engine: Engine, text: str, state: State, reply: Reply) -> bool:
    """ "awel nummer", "is 1712 een noodnummer?": that line's card, from the registry."""
    card = engine.referrals.card_for(text, state.lang)
    if card is None:
        return False
    reply.intent, reply.confidence = f"helpline:{card.helpline}", 1.0
    reply.append(card)
    return True


def _wants_quiz(engine: Engine, norm: str, state: State) -> bool:
    """A chapter named right after the chapter menu, or with a quiz word ("ik wil oefenen op hoofdstuk 4")."""
    if any(p[5:].isdigit() for p in state.offered if p.startswith("quiz:")) and len(norm.split()) <= 5:
        return True  # the chapter menu was just shown
    if CHAPTER_ASKED.search(norm) and not PRACTICE_WORDS.search(norm):
        return False
    return bool(QUIZ_WORDS.search(norm))


def _mix(*weighted: tuple[Prediction, float]) -> Prediction:
    scores: dict[str, float] = {}
    for prediction, weight in weighted:
        for intent, p in prediction.ranking:
            scores[intent] = scores.get(intent, 0.0) + p * weight
    ranked = tuple(sorted(scores.items(), key=lambda ip: -ip[1])[:3])
    return Prediction(ranked[0][0], ranked[0][1], ranked)


def _predict_in_context(engine: Engine, text: str, norm: str, state: State) -> Prediction:
    """A short follow-up ("en op TikTok?", "et en anglais ?", "sinds wanneer?") is read together with the question
    before it: both readings are averaged (the one with context counts double), so the follow-up's own words and
    the earlier topic both count."""
    alone = engine.classifier.predict(text)
    previous = state.last_question
    if not previous or len(norm.split()) > FOLLOW_UP_WORDS:
        return alone
    words = norm.split()
    while len(words) > 1 and words[0] in ACK_WORDS:  # "oke, en als ik elke week post?"
        words = words[1:]
    norm = " ".join(words)
    refers = _FOLLOW_UP.match(norm) or ANAPHORA & set(words)
    if not refers and len(words) > FOLLOW_UP_WORDS // 2:
        return alone  # four words or more without "en", "and", "dat", "ça"...: a question of its own
    if alone.confident and alone.confidence >= 0.8 and alone.intent in engine.content.faq:
        return alone
    mixed = _mix((alone, 1 / 3), (engine.classifier.predict(f"{previous} {text}"), 2 / 3))
    return mixed if mixed.intent in engine.content.faq else alone


def _by_sentence(engine: Engine, text: str, norm: str, prediction: Prediction) -> Prediction:
    """A story, then the question ("Ik speel in eerste nationale ... Moet daar iets bij?"): read whole, the story
    spreads the probability thin. When that reading is unsure, the question sentence and the pair it ends count
    too, a third each (calibrated on the dev sets)."""
    sure = prediction.confidence >= SENTENCE_UNSURE and prediction.intent != "out_of_scope"
    if sure or len(norm.split()) < SENTENCE_MIN_WORDS:
        return prediction
    parts = [p for p in _SENTENCE.split(text.strip()) if len(p.split()) >= 2]
    if len(parts) < 2:
        return prediction
    asked = [i for i, p in enumerate(parts) if "?" in p]
    last = asked[-1] if asked else len(parts) - 1
    pair = engine.classifier.predict(" ".join(parts[max(0, last - 1) : last + 1]))
    if len(parts[last].split()) < QUESTION_MIN_WORDS:
        return _mix((prediction, 1 / 2), (pair, 1 / 2))
    return _mix((prediction, 1 / 3), (engine.classifier.predict(parts[last]), 1 / 3), (pair, 1 / 3))


def decide(engine: Engine, prediction: Prediction, state: State, reply: Reply) -> None:
    faq = engine.content.faq
    ranking = [(i, p) for i, p in prediction.ranking if p >= MENU_MIN]
    top, p1 = prediction.intent, prediction.confidence
    second = prediction.ranking[1] if len(prediction.ranking) > 1 else (None, 0.0)
    if top in SYSTEM_INTENTS and top != "out_of_scope" and p1 >= ANSWER_MIN and p1 - second[1] >= CLEAR_MARGIN:
        system_intent(engine, top, state, reply)
        return
    if top == "out_of_scope" and p1 < OOS_SURE and second[0] in faq and second[1] >= OOS_RUNNER_UP:
        top, p1 = second  # "reels op insta, zelfde regels?": unsure it is out of scope, and a rule fits well enough
        second = prediction.ranking[2] if len(prediction.ranking) > 2 else (None, 0.0)
    if top in faq and p1 >= ANSWER_MIN and p1 - second[1] >= CLEAR_MARGIN:
        answer_faq(engine, top, state, reply, alternatives=[i for i, p in prediction.ranking[1:3] if i in faq and p >= ALT_MIN])
        return
    candidates = [i for i, _ in ranking if i in faq]
    if len(candidates) >= 2 and top != "out_of_scope":
        state.misses = 0
        reply.append(
            Choices(engine.t("did_you_mean", state.lang), tuple(_faq_choice(engine, i, state.lang) for i in candidates[:3]))
        )
        return
    if candidates and top != "out_of_scope" and p1 >= MENU_MIN:
        answer_faq(engine, candidates[0], state, reply, alternatives=[])
        return
    fallback(engine, prediction, state, reply)


def system_intent(engine: Engine, intent: str, state: State, reply: Reply) -> None:
    lang, t = state.lang, engine.t
    state.misses = 0
    if intent == "greet":
        state.greeted = True
        reply.append(Text(t("greeting", lang)))
        reply.append(texts.main_menu(t, lang))
    elif intent in ("thanks", "goodbye"):
        reply.append(Text(t(intent, lang)))
    elif intent in ("help", "helplines"):
        commands.run(engine, intent, "", state, reply)
    elif intent == "quiz":
        reply.append(texts.chapter_menu(engine.content, t, lang))
    elif intent == "human":
        flows.ask_human(engine, state, reply, state.last_question or "")
    elif intent == "not_helpful":
        reply.append(
            Choices(
                t("not_helpful", lang),
                (Choice(t("human_button", lang), "human:intake"), Choice(t("faq_button", lang), "menu:faq")),
            )
        )


def fallback(engine: Engine, prediction: Prediction, state: State, reply: Reply) -> None:
    """Not understood: a warm word and the general lines when it reads as distress (read with the user's message
    before it: "en als ik da ni haal" after "70% halen?" is no distress); else the scope, then a person."""
    lang, t = state.lang, engine.t
    if engine.safety.distressed(state.last_question or "", state.recent[-1:]):
        reply.intent = "distress_fallback"
        reply.append(Text(t("distress_fallback", lang)))
        reply.append(engine.referrals.render("distress", lang, "concern", short=True))
        reply.append(Choices(t("after_referral", lang), (Choice(t("human_button", lang), "human:intake"),)))
        return
    reply.unplaced = True
    state.misses += 1
    if state.misses >= MISSES_BEFORE_HUMAN:
        state.misses = 0
        candidates = [i for i, p in prediction.ranking if i in engine.content.faq and p >= ALT_MIN][:2]
        options = [_faq_choice(engine, i, lang) for i in candidates]
        options.append(Choice(t("human_button", lang), "human:intake"))
        reply.append(Choices(t("offer_human", lang), tuple(options)))
    else:
        reply.append(Text(t("out_of_scope", lang)))
        reply.append(texts.main_menu(t, lang))


def answer_faq(
    engine: Engine, faq_id: str, state: State, reply: Reply, alternatives: list[str] | None = None, lang: str | None = None
) -> None:
    """The entry's answer with its source, then alternatives or related questions; `lang` answers in another
    language than the conversation's (the menus stay in the user's)."""
    lang, content = lang or state.lang, engine.content
    entry = content.faq[faq_id]
    state.misses = 0
    state.last_faq = faq_id
    url = entry.link(lang)
    reply.append(Text(f"{entry.answer[lang]}\n\n{engine.t('source', lang)}: {url}", source_url=url, faq_id=faq_id))
    if state.quiz:
        return
    menu = state.lang
    if alternatives:
        reply.append(Choices(engine.t("not_what_you_meant", menu), tuple(_faq_choice(engine, i, menu) for i in alternatives[:2])))
        return
    related = [r for r in entry.related if r in content.faq][:3]
    if related:
        reply.append(Choices(engine.t("related", menu), tuple(_faq_choice(engine, r, menu) for r in related)))


def guidance(engine: Engine, topic: str, lang: str, state: State, reply: Reply) -> None:
    """Safe-posting tips, a caption text to copy and the lines to name, for a creator's content about a sensitive
    theme: an answer about posting safely (the FAQ entry's follow-ups apply), not a crisis referral."""
    if lang and not state.lang_fixed:
        state.lang = lang
    reply.intent, reply.confidence = f"guidance:{topic}", 1.0
    state.misses, state.last_faq = 0, SAFE_POSTING
    reply.append(Text(engine.referrals.render(topic, state.lang).text, faq_id=SAFE_POSTING))
    reply.append(Choices(engine.t("after_referral", state.lang), (Choice(engine.t("human_button", state.lang), "human:intake"),)))


def _faq_choice(engine: Engine, faq_id: str, lang: str) -> Choice:
    return Choice(engine.content.faq[faq_id].question[lang], f"faq:{faq_id}")
