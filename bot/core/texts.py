"""User-visible text assembled in code: menus, quiz results, progress. The sentences themselves are in knowledge/ui.yml."""

from __future__ import annotations

from bot.content import Content
from bot.core import quiz
from bot.core.captions import Check
from bot.core.i18n import Strings
from bot.core.types import Choice, Choices, Part, State, Text


def main_menu(t: Strings, lang: str) -> Choices:
    return Choices(
        t("menu_prompt", lang),
        (
            Choice(t("menu_faq", lang), "menu:faq"),
            Choice(t("menu_quiz", lang), "quiz:menu"),
            Choice(t("menu_exam", lang), "cmd:exam"),
            Choice(t("menu_check", lang), "cmd:check"),
            Choice(t("menu_helplines", lang), "cmd:helplines"),
            Choice(t("menu_human", lang), "human:start"),
        ),
    )


def faq_menu(content: Content, t: Strings, lang: str) -> Choices:
    ids = [i for i in content.menus["faq"] if i in content.faq]
    return Choices(t("faq_menu", lang), tuple(Choice(content.faq[i].question[lang], f"faq:{i}") for i in ids))


def chapter_menu(content: Content, t: Strings, lang: str) -> Choices:
    options = [Choice(f"{n}. {ch.title[lang]}", f"quiz:{n}") for n, ch in content.chapters.items()]
    options.append(Choice(t("random_chapter", lang), "quiz:random"))
    return Choices(t("chapter_pick", lang), tuple(options))


def result(content: Content, t: Strings, mode: str, res: quiz.Result, lang: str) -> str:
    lines = [t("score", lang, right=res.right, total=res.total, percent=res.percent)]
    if mode == "exam":
        lines.append(t("exam_passed" if res.passed else "exam_failed", lang))
        lines.append(t("per_chapter", lang))
        for number, (right, total) in res.per_chapter.items():
            lines.append(f"• {number}. {content.chapters[number].title[lang]}: {right}/{total}")
        for item in res.wrong:
            lines.append(f"✗ {item.question(lang)}\n  → {item.options(lang)[item.correct]}: {item.explanation(lang)}")
    elif res.wrong:
        lines.append(t("to_review", lang))
        topics = dict.fromkeys(item.faq for item in res.wrong if item.faq in content.faq)
        lines += [f"• {content.faq[f].question[lang]} ({content.faq[f].link(lang)})" for f in topics]
        lines.append(t("review_hint", lang))
    else:
        lines.append(t("all_right", lang))
    lines.append(t("practice_disclaimer", lang))
    return "\n".join(lines)


def progress(content: Content, t: Strings, state: State) -> str:
    lang = state.lang
    lines = [t("progress_title", lang)]
    for number, chapter in content.chapters.items():
        best = state.best.get(str(number))
        lines.append(f"• {number}. {chapter.title[lang]}: {f'{best}%' if best is not None else '—'}")
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


def caption_reply(content: Content, t: Strings, check: Check, lang: str) -> list[Part]:
    """The caption check in chat: the verdict, one sentence per problem, the corrected first line to copy, the
    reminders for a commercial post, and the FAQ entries that explain it all. A post that may not go out at all gets
    no first line and no reminders."""
    allowed = check.verdict != "not_allowed"
    commercial = "commercial" in check.flags and allowed
    head = "caption_ok_ad" if check.verdict == "ok" and commercial else f"caption_{check.verdict}"
    label = content.captions[check.lang]["suggestion"]["label"]
    names = {"label_lang": t(f"caption_lang_{check.label_lang}", lang) if check.label_lang else ""}
    names["caption_lang"] = t(f"caption_lang_{check.lang}", lang)
    lines = [t(head, lang)]
    for flag in check.flags:
        if flag != "commercial":
            found = check.found(flag) or check.found("commercial")
            lines.append(f"• {t(f'caption_{flag}', lang, found=found, label=label, **names)}")
    parts: list[Part] = [Text("\n".join(lines))]
    if check.suggestion and allowed:
        parts += [Text(t("caption_first_line", lang)), Text(check.suggestion)]
    if commercial:
        parts.append(Text(t("caption_reminder", lang)))
    explained = content.captions["flags"]
    ids = [explained["faq"].get(flag) for flag in check.flags] + (list(explained["reminder"]) if commercial else [])
    ids = [i for i in dict.fromkeys(ids) if i in content.faq]
    if ids:
        parts.append(Choices(t("caption_more", lang), tuple(Choice(content.faq[i].question[lang], f"faq:{i}") for i in ids)))
    return parts
