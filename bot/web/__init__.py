"""The moderator web desk (`influbot web`): queue, case pages, figures; accounts via `influbot moderator`."""
