"""The core: handle(inbound, state) -> (parts, new state), through a fixed pipeline.

handoff gate -> safety router -> commands -> quiz and forms -> intent/FAQ -> fallback (offer a human).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

from bot.content import Content
from bot.core import quiz
from bot.core.i18n import LANGS, Strings
from bot.core.nlu import SYSTEM_INTENTS, IntentClassifier, LanguageDetector, Prediction
from bot.core.referrals import Referrals
from bot.core.safety import SafetyHit, SafetyRouter
from bot.core.text import ascii_int, clean_input, normalize
from bot.core.types import (
    Action,
    Choice,
    Choices,
    HandoffNotice,
    Inbound,
    Reply,
    State,
    Text,
    ToDesk,
)

MAX_CHARS = 4000
REFERRAL_COOLDOWN = 600.0  # seconds before the full referral text is repeated for a topic
MISSES_BEFORE_HUMAN = 2
SUGGEST_MIN = 0.12
POPULAR = ("cert_price", "disclosure_labels", "cert_steps")
PAYLOAD = re.compile(
    r"^(?:faq:[a-z0-9_]{1,40}|ans:[a-z0-9_]{1,20}:\d|quiz:(?:[1-9]|random|resume|menu)|cmd:[a-z]{1,12}"
    r"|human:(?:start|intake)|lang:(?:nl|fr|en)|forget:(?:yes|no)|menu:faq)$",
    re.ASCII,
)

# Command names per language, mapped to one canonical name.
COMMANDS = {
    "start": "start",
    "menu": "start",
    "help": "help",
    "hulp": "help",
    "aide": "help",
    "quiz": "quiz",
    "examen": "exam",
    "exam": "exam",
    "voortgang": "progress",
    "progression": "progress",
    "progress": "progress",
    "herhaal": "review",
    "revision": "review",
    "review": "review",
    "hulplijnen": "helplines",
    "lignes": "helplines",
    "helplines": "helplines",
    "mens": "human",
    "humain": "human",
    "human": "human",
    "stop": "stop",
    "arreter": "stop",
    "taal": "lang",
    "langue": "lang",
    "language": "lang",
    "vergeet": "forget",
    "oublier": "forget",
    "forget": "forget",
}
YES = {"ja", "jaa", "yes", "oui", "ok", "oke", "yep", "jep", "zeker", "bien sur"}
NO = {"nee", "neen", "no", "non", "nope", "nein"}


class Engine:
    def __init__(
        self,
        content: Content,
        classifier: IntentClassifier,
        detector: LanguageDetector,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.content = content
        self.classifier = classifier
        self.detector = detector
        self.safety = SafetyRouter(content.lexicons)
        self.t = Strings(content.ui)
        self.referrals = Referrals(content, self.t)
        self.rng = random.Random(seed)
        self.clock = clock

    # -- pipeline -------------------------------------------------------------------------

    def handle(self, inbound: Inbound, state: State) -> tuple[Reply, State]:
        state = state.copy()
        reply = Reply()
        raw = clean_input(inbound.text)
        if inbound.kind == "text" and len(raw) > MAX_CHARS:
            reply.append(Text(self.t("too_long", state.lang, limit=MAX_CHARS)))
        text = raw[:MAX_CHARS]
        self._update_lang(state, inbound, text)
        for step in (self._handoff_gate, self._safety, self._commands, self._choice, self._quiz_and_forms):
            if step(inbound, text, raw, state, reply):
                break
        else:
            self._understand(text, state, reply)
        if reply:
            state.offered = [p for part in reply for p in _payloads(part)]
        return reply, state

    def _update_lang(self, state: State, inbound: Inbound, text: str) -> None:
        if not state.greeted and inbound.lang_hint in LANGS and not state.lang_fixed:
            state.lang = inbound.lang_hint
        if state.lang_fixed or inbound.kind != "text" or not text or text.startswith("/"):
            return
        norm = normalize(text)
        words = len(norm.split())
        if len(norm) < 5:  # "a", "ok", "2": too short to tell a language
            return
        lang, margin = self.detector.detect(text)
        if lang and lang != state.lang and ((words >= 2 and margin > 0.35) or margin > 1.0):
            state.lang = lang

    def _handoff_gate(self, inbound: Inbound, text: str, raw: str, state: State, reply: Reply) -> bool:
        if state.case_id is None:
            return False
        lang = state.lang
        if _command(text) == ("stop", ""):
            reply.append(ToDesk("close", self.t("desk_user_stopped", "en")))
            reply.append(HandoffNotice(self.t("handoff_user_stopped", lang), state.case_id, "closed"))
            state.case_id = None
            return True
        hit = self.safety.detect(raw) if raw else None
        if hit:
            reply.extend(self._referral(state, hit))
        relayed = text or (f"[{inbound.payload}]" if inbound.payload else "")
        if relayed:
            reply.append(ToDesk("message", relayed, topic=hit.topic if hit else "", tags=(hit.topic,) if hit else ()))
            if not hit:
                reply.append(HandoffNotice(self.t("handoff_relayed", lang), state.case_id, "relayed"))
        else:
            reply.append(HandoffNotice(self.t("handoff_waiting", lang), state.case_id, "waiting"))
        return True

    def _safety(self, inbound: Inbound, text: str, raw: str, state: State, reply: Reply) -> bool:
        hit = self.safety.detect(raw) if raw and inbound.kind == "text" else None
        if not hit:
            return False
        reply.intent = f"safety:{hit.topic}"
        reply.confidence = 1.0
        reply.extend(self._referral(state, hit))
        options = []
        if state.quiz and state.quiz.mode:
            state.quiz.paused = True
            options.append(Choice(self.t("quiz_resume_button", state.lang), "quiz:resume"))
        if hit.acute:
            reply.append(ToDesk("open", "", topic=hit.topic, priority=2, tags=(hit.topic,)))
            reply.append(HandoffNotice(self.t("handoff_safety_case", state.lang), None, "opened"))
        else:
            options.append(Choice(self.t("human_button", state.lang), "human:intake"))
        if options:
            reply.append(Choices(self.t("after_referral", state.lang), tuple(options)))
        return True

    def _referral(self, state: State, hit: SafetyHit) -> list:
        now = self.clock()
        recent = now - state.referral_at.get(hit.topic, -1e12) < REFERRAL_COOLDOWN
        if not recent:
            state.referral_at[hit.topic] = now
        return [self.referrals.render(hit.topic, state.lang, hit.severity, short=recent)]

    # -- commands -------------------------------------------------------------------------

    def _commands(self, inbound: Inbound, text: str, raw: str, state: State, reply: Reply) -> bool:
        parsed = _command(text)
        if parsed is None:
            return False
        name, arg = parsed
        reply.intent = f"/{name}"
        reply.confidence = 1.0
        self.run_command(name, arg, state, reply)
        return True

    def run_command(self, name: str, arg: str, state: State, reply: Reply) -> None:
        lang = state.lang
        t = self.t
        if name == "start":
            state.greeted = True
            reply.append(Text(t("greeting", lang)))
            if state.quiz:
                state.quiz.paused = False
                reply.append(Text(t("quiz_continues", lang)))
                reply.append(quiz.current(self.content, state.quiz, lang))
            else:
                reply.append(self._menu(lang))
        elif name == "help":
            reply.append(Text(t("help", lang)))
            reply.append(self._menu(lang))
        elif name == "quiz":
            if state.quiz and state.quiz.paused:
                self._resume_quiz(state, reply)
            elif ascii_int(arg) in self.content.chapters:
                self._start_quiz(state, reply, "quiz", ascii_int(arg))
            else:
                reply.append(self._chapter_menu(lang))
        elif name == "exam":
            self._start_quiz(state, reply, "exam", None)
        elif name == "review":
            if not state.review:
                reply.append(Text(t("review_empty", lang)))
            else:
                self._start_quiz(state, reply, "review", None)
        elif name == "progress":
            reply.append(Text(self._progress(state)))
        elif name == "helplines":
            reply.append(Text(self.referrals.overview(lang)))
        elif name == "human":
            self._ask_human(state, reply, "")
        elif name == "stop":
            if state.quiz:
                state.quiz = None
                reply.append(Text(t("quiz_stopped", lang)))
            elif state.flow:
                state.flow, state.flow_data = None, {}
                reply.append(Text(t("flow_cancelled", lang)))
            else:
                reply.append(Text(t("nothing_to_stop", lang)))
        elif name == "lang":
            choice = arg.strip().lower()[:2]
            if choice in LANGS:
                state.lang, state.lang_fixed = choice, True
                reply.append(Text(t("lang_set", choice)))
            else:
                reply.append(
                    Choices(t("lang_pick", lang), tuple(Choice(t(f"lang_{code}", code), f"lang:{code}") for code in LANGS))
                )
        elif name == "forget":
            state.flow, state.flow_data = "forget", {}
            reply.append(
                Choices(
                    t("forget_confirm", lang),
                    (Choice(t("forget_yes", lang), "forget:yes"), Choice(t("forget_no", lang), "forget:no")),
                )
            )
        else:
            reply.append(Text(t("unknown_command", lang)))

    # -- buttons and typed picks ------------------------------------------------------------

    def _choice(self, inbound: Inbound, text: str, raw: str, state: State, reply: Reply) -> bool:
        payload = inbound.payload if inbound.kind == "choice" else ""
        number = ascii_int(text)
        if not payload and number is not None and state.offered and not (state.quiz and not state.quiz.paused):
            pick = number - 1
            if 0 <= pick < len(state.offered):
                payload = state.offered[pick]
        if not payload:
            return False
        reply.intent, reply.confidence = f"choice:{payload.split(':')[0]}", 1.0
        if not PAYLOAD.fullmatch(payload) or not self._apply_choice(payload, state, reply):
            reply.append(Text(self.t("button_expired", state.lang)))
            if state.quiz and not state.quiz.paused:
                reply.append(quiz.current(self.content, state.quiz, state.lang))
        return True

    def _apply_choice(self, payload: str, state: State, reply: Reply) -> bool:
        kind, _, value = payload.partition(":")
        lang = state.lang
        if kind == "faq":
            if value not in self.content.faq:
                return False
            state.flow, state.flow_data = None, {}
            self._answer_faq(value, state, reply)
        elif kind == "ans":
            item_id, _, pos = value.partition(":")
            run = state.quiz
            if not run or run.paused or run.items[run.index] != item_id or int(pos) >= len(run.orders[run.index]):
                return False
            self._record_answer(int(pos), state, reply)
        elif kind == "quiz":
            if value == "resume":
                if not state.quiz:
                    return False
                self._resume_quiz(state, reply)
            elif value == "menu":
                reply.append(self._chapter_menu(lang))
            elif value == "random":
                self._start_quiz(state, reply, "quiz", None)
            elif int(value) in self.content.chapters:
                self._start_quiz(state, reply, "quiz", int(value))
            else:
                return False
        elif kind == "cmd":
            if value not in set(COMMANDS.values()):
                return False
            self.run_command(value, "", state, reply)
        elif kind == "human":
            if value == "intake":
                self._start_intake(state, reply)
            else:
                self._ask_human(state, reply, "")
        elif kind == "lang":
            self.run_command("lang", value, state, reply)
        elif kind == "forget":
            if state.flow != "forget":
                return False
            state.flow, state.flow_data = None, {}
            if value == "yes":
                reply.append(Action("forget"))
                reply.append(Text(self.t("forget_done", lang)))
            else:
                reply.append(Text(self.t("forget_kept", lang)))
        elif kind == "menu":
            reply.append(self._faq_menu(lang))
        return True

    # -- quiz and forms ---------------------------------------------------------------------

    def _quiz_and_forms(self, inbound: Inbound, text: str, raw: str, state: State, reply: Reply) -> bool:
        lang = state.lang
        if state.quiz and not state.quiz.paused:
            question = quiz.current(self.content, state.quiz, lang)
            pos = quiz.parse_answer(text, question)
            if pos is not None:
                reply.intent, reply.confidence = "quiz_answer", 1.0
                self._record_answer(pos, state, reply)
                return True
            prediction = self.classifier.predict(text) if text else None
            if prediction and prediction.confident and prediction.intent in self.content.faq:
                self._answer_faq(prediction.intent, state, reply)
                reply.append(Text(self.t("quiz_waits", lang)))
            else:
                reply.append(Text(self.t("quiz_hint", lang, n=len(question.options))))
            reply.append(question)
            return True
        if state.flow == "forget":
            word = normalize(text)
            if word in YES or word in NO:
                return self._apply_choice("forget:yes" if word in YES else "forget:no", state, reply)
            state.flow = None
            return False
        if state.flow == "intake" and text:
            state.flow, state.flow_data = None, {}
            reply.intent, reply.confidence = "human", 1.0
            reply.append(ToDesk("open", text, topic=text[:80]))
            reply.append(HandoffNotice(self.t("handoff_opened", lang), None, "opened"))
            return True
        if state.flow == "deflect":
            word = normalize(text)
            state.flow = None
            if word in NO:
                self._start_intake(state, reply)
                return True
        return False

    def _start_quiz(self, state: State, reply: Reply, mode: str, chapter: int | None) -> None:
        review = list(state.review) if mode == "review" else None
        state.quiz = quiz.start(self.content, mode, self.rng, chapter, review)
        state.flow, state.flow_data = None, {}
        intro = {"quiz": "quiz_intro", "exam": "exam_intro", "review": "review_intro"}[mode]
        title = self.content.chapters[chapter].title[state.lang] if chapter else self.t("random_chapter", state.lang)
        reply.append(Text(self.t(intro, state.lang, n=len(state.quiz.items), title=title)))
        reply.append(quiz.current(self.content, state.quiz, state.lang))

    def _resume_quiz(self, state: State, reply: Reply) -> None:
        assert state.quiz is not None
        state.quiz.paused = False
        reply.append(Text(self.t("quiz_continues", state.lang)))
        reply.append(quiz.current(self.content, state.quiz, state.lang))

    def _record_answer(self, pos: int, state: State, reply: Reply) -> None:
        run = state.quiz
        assert run is not None
        lang, t = state.lang, self.t
        done = quiz.answer(self.content, state, pos, lang)
        if run.mode != "exam":
            faq = self.content.faq.get(done.item.faq)
            verdict = t("quiz_right", lang) if done.right else t("quiz_wrong", lang, answer=done.correct_text)
            lines = [verdict, done.item.explanation(lang)]
            if faq:
                lines.append(t("quiz_more", lang, question=faq.question[lang], url=faq.url))
            reply.append(Text("\n".join(lines), source_url=faq.url if faq else None, faq_id=done.item.faq))
        if not done.finished:
            reply.append(quiz.current(self.content, run, lang))
            return
        state.quiz = None
        result = quiz.result(self.content, run)
        reply.append(Text(self._result_text(run.mode, run.chapter, result, lang)))
        if run.mode == "exam":
            state.exams.append({"right": result.right, "total": result.total, "passed": result.passed, "at": int(self.clock())})
        elif run.mode == "quiz" and run.chapter:
            key = str(run.chapter)
            state.best[key] = max(state.best.get(key, 0), result.percent)
        reply.append(self._menu(lang))

    def _result_text(self, mode: str, chapter: int | None, result: quiz.Result, lang: str) -> str:
        t = self.t
        lines = [t("score", lang, right=result.right, total=result.total, percent=result.percent)]
        if mode == "exam":
            lines.append(t("exam_passed" if result.passed else "exam_failed", lang))
            lines.append(t("per_chapter", lang))
            for number, (right, total) in result.per_chapter.items():
                title = self.content.chapters[number].title[lang]
                lines.append(f"• {number}. {title}: {right}/{total}")
            for item in result.wrong:
                lines.append(f"✗ {item.question(lang)}\n  → {item.options(lang)[item.correct]}: {item.explanation(lang)}")
        elif result.wrong:
            lines.append(t("to_review", lang))
            topics = dict.fromkeys(item.faq for item in result.wrong if item.faq in self.content.faq)
            lines += [f"• {self.content.faq[f].question[lang]} ({self.content.faq[f].url})" for f in topics]
            lines.append(t("review_hint", lang))
        else:
            lines.append(t("all_right", lang))
        lines.append(t("practice_disclaimer", lang))
        return "\n".join(lines)

    def _progress(self, state: State) -> str:
        lang, t = state.lang, self.t
        lines = [t("progress_title", lang)]
        for number, chapter in self.content.chapters.items():
            best = state.best.get(str(number))
            score = f"{best}%" if best is not None else "—"
            lines.append(f"• {number}. {chapter.title[lang]}: {score}")
        if state.exams:
            best_exam = max(state.exams, key=lambda e: e["right"] / e["total"])
            passed = sum(1 for e in state.exams if e["passed"])
            lines.append(
                t("progress_exams", lang, n=len(state.exams), passed=passed, best=best_exam["right"], total=best_exam["total"])
            )
        else:
            lines.append(t("progress_no_exams", lang))
        lines.append(t("progress_review", lang, n=len(state.review)))
        return "\n".join(lines)

    # -- understanding ------------------------------------------------------------------------

    def _understand(self, text: str, state: State, reply: Reply) -> None:
        lang, t = state.lang, self.t
        if not text:
            reply.append(Text(t("empty", lang)))
            reply.append(self._menu(lang))
            return
        if not normalize(text):
            reply.append(Text(t("no_words", lang)))
            reply.append(self._menu(lang))
            return
        prediction = self.classifier.predict(text)
        reply.intent, reply.confidence = prediction.intent, prediction.confidence
        state.flow_data["recent"] = text[:200]
        if prediction.confident and prediction.intent in self.content.faq:
            self._answer_faq(prediction.intent, state, reply)
        elif prediction.confident and prediction.intent in SYSTEM_INTENTS and prediction.intent != "out_of_scope":
            self._system_intent(prediction.intent, state, reply)
        else:
            self._fallback(prediction, state, reply)

    def _system_intent(self, intent: str, state: State, reply: Reply) -> None:
        lang = state.lang
        state.misses = 0
        if intent == "greet":
            state.greeted = True
            reply.append(Text(self.t("greeting", lang)))
            reply.append(self._menu(lang))
        elif intent in ("thanks", "goodbye"):
            reply.append(Text(self.t(intent, lang)))
        elif intent == "help":
            self.run_command("help", "", state, reply)
        elif intent == "quiz":
            reply.append(self._chapter_menu(lang))
        elif intent == "helplines":
            self.run_command("helplines", "", state, reply)
        elif intent == "human":
            self._ask_human(state, reply, state.flow_data.get("recent", ""))
        elif intent == "not_helpful":
            reply.append(
                Choices(
                    self.t("not_helpful", lang),
                    (Choice(self.t("human_button", lang), "human:intake"), Choice(self.t("faq_button", lang), "menu:faq")),
                )
            )

    def _fallback(self, prediction: Prediction, state: State, reply: Reply) -> None:
        lang, t = state.lang, self.t
        state.misses += 1
        candidates = [i for i, p in prediction.ranking if i in self.content.faq and p >= SUGGEST_MIN]
        if state.misses >= MISSES_BEFORE_HUMAN:
            state.misses = 0
            options = [Choice(self.content.faq[i].question[lang], f"faq:{i}") for i in candidates[:2]]
            options.append(Choice(t("human_button", lang), "human:intake"))
            reply.append(Choices(t("offer_human", lang), tuple(options)))
        elif candidates and prediction.intent != "out_of_scope":
            options = tuple(Choice(self.content.faq[i].question[lang], f"faq:{i}") for i in candidates[:3])
            reply.append(Choices(t("did_you_mean", lang), options))
        else:
            reply.append(Text(t("out_of_scope", lang)))
            reply.append(self._menu(lang))

    def _answer_faq(self, faq_id: str, state: State, reply: Reply) -> None:
        lang = state.lang
        entry = self.content.faq[faq_id]
        state.misses = 0
        state.last_faq = faq_id
        reply.append(Text(f"{entry.answer[lang]}\n\n{self.t('source', lang)}: {entry.url}", source_url=entry.url, faq_id=faq_id))
        related = [r for r in entry.related if r in self.content.faq][:3]
        if related and not state.quiz:
            reply.append(
                Choices(self.t("related", lang), tuple(Choice(self.content.faq[r].question[lang], f"faq:{r}") for r in related))
            )

    # -- the moderator desk -------------------------------------------------------------------

    def _ask_human(self, state: State, reply: Reply, query: str) -> None:
        lang = state.lang
        if state.flow == "deflect":
            self._start_intake(state, reply)
            return
        ranked = [i for i, p in self.classifier.predict(query, top=5).ranking if i in self.content.faq] if query else []
        suggestions = (ranked or list(POPULAR))[:3]
        state.flow, state.flow_data = "deflect", {}
        options = [Choice(self.content.faq[i].question[lang], f"faq:{i}") for i in suggestions if i in self.content.faq]
        options.append(Choice(self.t("human_still", lang), "human:intake"))
        reply.append(Choices(self.t("deflect", lang), tuple(options)))

    def _start_intake(self, state: State, reply: Reply) -> None:
        state.flow, state.flow_data = "intake", {}
        reply.append(Text(self.t("intake_prompt", state.lang)))

    # -- menus ------------------------------------------------------------------------------

    def _menu(self, lang: str) -> Choices:
        t = self.t
        return Choices(
            t("menu_prompt", lang),
            (
                Choice(t("menu_faq", lang), "menu:faq"),
                Choice(t("menu_quiz", lang), "quiz:menu"),
                Choice(t("menu_exam", lang), "cmd:exam"),
                Choice(t("menu_helplines", lang), "cmd:helplines"),
                Choice(t("menu_human", lang), "human:start"),
            ),
        )

    def _faq_menu(self, lang: str) -> Choices:
        ids = ("cert_what", "cert_price", "cert_steps", "cert_validity", "disclosure_when", "disclosure_labels", "register_what")
        return Choices(
            self.t("faq_menu", lang),
            tuple(Choice(self.content.faq[i].question[lang], f"faq:{i}") for i in ids if i in self.content.faq),
        )

    def _chapter_menu(self, lang: str) -> Choices:
        options = [Choice(f"{n}. {ch.title[lang]}", f"quiz:{n}") for n, ch in self.content.chapters.items()]
        options.append(Choice(self.t("random_chapter", lang), "quiz:random"))
        return Choices(self.t("chapter_pick", lang), tuple(options))


def _command(text: str) -> tuple[str, str] | None:
    """('canonical', 'argument') for '/cmd arg' or '/cmd@bot arg'; ('unknown', name) for others."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, arg = text[1:].partition(" ")
    name = normalize(head.split("@", 1)[0]).replace(" ", "")
    return (COMMANDS[name], arg.strip()) if name in COMMANDS else ("unknown", name)


def _payloads(part: object) -> list[str]:
    if isinstance(part, Choices):
        return [c.payload for c in part.options]
    payloads = getattr(part, "payloads", None)
    return list(payloads) if payloads else []
