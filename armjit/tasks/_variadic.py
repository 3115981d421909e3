"""Tasks that take any number of positional arguments (``invoke mine a.log b.log --json``).

invoke 2.2's parser has one question for a positional argument, "is its value None?", and asks
it twice: while reading tokens (None = give me this token) and when the task's context ends
(None = required argument missing, error). A list argument therefore cannot both keep taking
tokens and be optional. ``VariadicArgument`` answers "None" while it is open, collecting every
token handed to it, and becomes its (possibly empty) list once closed. It is closed just before
invoke checks the context's completeness, and when the next token names another task (so
``invoke mine a.log b.log other-task`` still runs ``other-task``; a path named like a task needs
``./``). A token starting with ``-`` is never taken as a path, so ``--help`` and typos of flags
behave as usual. Both hooks wrap invoke's
``ParseMachine`` methods once, and do nothing for contexts without a variadic argument.
Flags keep working anywhere on the line, because invoke tries flags before positionals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from invoke import Task
from invoke import task as invoke_task
from invoke.parser.argument import Argument
from invoke.parser.parser import ParseMachine

__all__ = ["VariadicArgument", "VariadicTask", "variadic_task"]


class VariadicArgument(Argument):  # type: ignore[misc]
    """A positional argument that takes every remaining positional token (zero or more)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("kind", list)
        kwargs["positional"] = True
        super().__init__(**kwargs)
        self.values: list[str] = []
        self.open = True

    @property
    def value(self) -> Any:
        return None if self.open else list(self.values)

    @value.setter
    def value(self, arg: Any) -> None:
        self.set_value(arg)

    def set_value(self, value: Any, cast: bool = True) -> None:
        # invoke passes True for a bare optional flag; only real tokens are kept.
        if isinstance(value, str):
            self.values.append(value)
        elif isinstance(value, list | tuple):
            self.values.extend(str(v) for v in value)
        self.raw_value = self._value = list(self.values)

    @property
    def got_value(self) -> bool:
        return bool(self.values)

    def close(self) -> None:
        self.open = False


def _variadics(context: Any) -> list[VariadicArgument]:
    if context is None:
        return []
    return [a for a in getattr(context, "positional_args", []) if isinstance(a, VariadicArgument)]


def _install() -> None:
    if getattr(ParseMachine, "_armjit_variadic", False):
        return
    complete = ParseMachine.complete_context
    handle = ParseMachine.handle

    def complete_context(self: Any) -> None:
        for arg in _variadics(self.context):
            arg.close()
        complete(self)

    def handle_token(self: Any, token: str) -> None:
        variadics = _variadics(self.context)
        own_flag = bool(self.context) and (token in self.context.flags or token in self.context.inverse_flags)
        if not variadics or own_flag:
            handle(self, token)
        elif token in self.contexts:
            for arg in variadics:
                arg.close()
            handle(self, token)
        elif token.startswith("-"):
            # A core flag (--help) or an unknown one: never a path; the list stays open after it.
            states = [(arg, arg.open) for arg in variadics]
            for arg in variadics:
                arg.open = False
            try:
                handle(self, token)
            finally:
                for arg, was_open in states:
                    arg.open = was_open
        else:
            handle(self, token)

    ParseMachine.complete_context = complete_context
    ParseMachine.handle = handle_token
    ParseMachine._armjit_variadic = True


_install()


class VariadicTask(Task):  # type: ignore[misc]
    """A Task whose parameter ``variadic`` collects all positional tokens as a list of str."""

    def __init__(self, body: Callable[..., Any], *, variadic: str, **kwargs: Any) -> None:
        self.variadic = variadic
        positional = [p for p in kwargs.pop("positional", None) or [] if p != variadic]
        super().__init__(body, positional=[variadic, *positional], **kwargs)

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        args: list[Argument] = super().get_arguments(ignore_unknown_help=ignore_unknown_help)
        return [
            VariadicArgument(names=arg.names, help=arg.help, attr_name=arg.attr_name, default=[])
            if arg.name == self.variadic
            else arg
            for arg in args
        ]


def variadic_task(variadic: str, **kwargs: Any) -> Callable[[Callable[..., Any]], VariadicTask]:
    """``@variadic_task("paths", help=...)``: like ``@task``, with ``paths`` taking every
    positional token (``invoke name a b c``); the body receives a list (empty when none)."""

    def decorate(body: Callable[..., Any]) -> VariadicTask:
        made: VariadicTask = invoke_task(klass=VariadicTask, variadic=variadic, **kwargs)(body)
        return made

    return decorate
