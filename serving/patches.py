"""Every change the project makes to Rasa's own behaviour, installed in one place.

Rasa offers no hook for these, so each replaces one method of one Rasa class
(never a file in site-packages). They are written against one Rasa release:
`install()` refuses to run on any other, because a replaced method that no
longer matches Rasa's code would fail silently or subtly. It is called by
the Rasa server's launcher (serving/rasa_server.py) before Rasa starts, so a
running server always has them, and nothing else installs them as a side
effect.

- serving/action_results.py: the action server's replies are checked with a
  validator built once instead of once per reply (same replies pass or fail).
- serving/model_loading.py: the TensorFlow models are restored for answering
  only, without tracing their training step (about two thirds of loading the
  model); Rasa's own load if the checkpoint does not fit exactly.
- serving/local_actions.py: a plain FAQ turn (`action_answer_faq`), and the
  action server's actions that need no database or network (session start,
  practical questions, fallbacks, the forms' validation...), are answered in
  the Rasa process, with the same code and Rasa's own reply path (the action
  server if that fails).
- serving/action_endpoint.py: the action server's connections are kept open
  (Rasa opens one per call), and closed by Rasa's own shutdown listener.
- serving/graph_runs.py: the model graph's run plan (which nodes, in which
  order) is made once per set of targets and the nodes are called in that
  order, instead of planning every run and scheduling it through dask.
- serving/shared_features.py: DIET and the ResponseSelector read a message's
  combined text features once, instead of combining them each (the same
  features: tests compare the parses with Rasa's).
- serving/direct_predict.py: the TensorFlow models' traced prediction graph
  is run directly, without TensorFlow's per-call dispatch (the same graph and
  outputs; it checks TensorFlow's version too).
- serving/state_history.py: the dialogue states the policies read are
  computed once per event of a conversation, not replayed from its first
  event for every prediction (the same states: tests compare with Rasa's).
- serving/replays.py: a message whose client-chosen id is already in the
  stored conversation is answered from the store under the conversation's
  lock, never processed twice, however many processes (while the lock holds: see
  that module).
- serving/api_guard.py: the HTTP API answers a body of the wrong shape (or
  not JSON, or not valid Unicode) with 400 in Rasa's error format, where
  Rasa's handlers would fail with a 500.
- serving/strict_storage.py: when the tracker store's database fails, the
  turn fails (and the channel says so) instead of being answered as a new
  conversation and kept only in memory.

The Redis lock store (serving/lock_store.py) is not a patch: it is a lock
store class that endpoints.production.yml names, a documented extension point.
"""

from __future__ import annotations

import rasa

from serving import (
    action_endpoint,
    action_results,
    api_guard,
    direct_predict,
    graph_runs,
    local_actions,
    model_loading,
    replays,
    shared_features,
    state_history,
    strict_storage,
)

WRITTEN_FOR_RASA = "3.6.21"


class UnknownRasaVersion(RuntimeError):
    """The installed Rasa is not the release the patches were written for."""


def check_rasa_version(installed: str | None = None) -> None:
    installed = installed or rasa.__version__
    if installed != WRITTEN_FOR_RASA:
        raise UnknownRasaVersion(
            f"Rasa {installed} is installed, but serving/patches.py was written for Rasa "
            f"{WRITTEN_FOR_RASA}: check each patch against the new release, then update "
            "WRITTEN_FOR_RASA."
        )


MODULES = (
    action_results,
    model_loading,
    shared_features,
    direct_predict,
    graph_runs,
    local_actions,
    action_endpoint,
    state_history,
    replays,
    api_guard,
    strict_storage,
)


def install() -> None:
    """Check the Rasa version, then install every patch (idempotent)."""
    check_rasa_version()
    for module in MODULES:
        module.install()


def uninstall() -> None:
    """Put Rasa's own methods back (tests run in one process; a server never needs this)."""
    for module in MODULES:
        module.uninstall()
