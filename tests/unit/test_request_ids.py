"""New request ids: 32 hex digits, never repeated within a process or across a fork."""

from __future__ import annotations

import os
import re

from innsync.api.log_context import accepted_request_id


def test_new_ids_are_unique_hex_and_a_callers_plain_id_is_kept() -> None:
    ids = [accepted_request_id(b"") for _ in range(10_000)]

    assert all(re.fullmatch(r"[0-9a-f]{32}", new) for new in ids)
    assert len(set(ids)) == len(ids)
    assert accepted_request_id(b"pms-42.a_b") == "pms-42.a_b"
    assert accepted_request_id(b"two words") not in ("two words", ids[-1])


def test_a_forked_process_draws_ids_of_its_own() -> None:
    parent = accepted_request_id(b"")
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report its next id and leave at once
        os.write(write_end, accepted_request_id(b"").encode())
        os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(child, 0)
    from_child = os.read(read_end, 64).decode()
    os.close(read_end)

    assert os.waitstatus_to_exitcode(status) == 0
    assert re.fullmatch(r"[0-9a-f]{32}", from_child)
    assert from_child[:16] != parent[:16]  # a prefix of its own, not the parent's next count
