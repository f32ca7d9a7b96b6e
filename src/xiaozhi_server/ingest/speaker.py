"""Who spoke a user turn, when the core's voiceprint recognition named them.

With speaker recognition on, the core reports a user turn's content as the JSON text
``{"speaker": "<name>", "content": "<text>"}`` (UPSTREAM.md, "Voiceprint"). The hub keeps
the name in its own field and the text as it was said, so readers, search and exports see
plain text. Anything else, including JSON-looking text that is not exactly this form, is
what the user said and stays as it is.
"""

from __future__ import annotations

import json

from xiaozhi_server.store.tables import SPEAKER_LEN

_FIELDS = frozenset({"speaker", "content"})


def split_speaker(content: str) -> tuple[str | None, str] | None:
    """``(speaker, text)`` of a user turn's content in the voiceprint form (a blank name is
    None); None for anything else. Both may still hold control characters that JSON escapes
    carried (``ingest.normalise`` strips them)."""
    if not content.lstrip().startswith("{") or '"speaker"' not in content:
        return None  # the common case decides without parsing
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or set(value) != _FIELDS:
        return None
    speaker, text = value["speaker"], value["content"]
    if not isinstance(speaker, str) or not isinstance(text, str):
        return None
    if len(speaker.strip()) > SPEAKER_LEN:
        return None
    return speaker.strip() or None, text


def join_speaker(speaker: str | None, text: str) -> str:
    """The core's content for a turn: the voiceprint JSON when a speaker is named, else the
    text itself (what manager-api stores, for readers that expect its form)."""
    if speaker is None:
        return text
    return json.dumps({"speaker": speaker, "content": text}, ensure_ascii=False)
