"""TED, answering again from memory when the dialogue looks the same as before.

Why: a profile of the Rasa process answering FAQ questions at 8 concurrent
conversations put about 30 % of its time in TED, two thirds of it in the
TensorFlow call. TED's answer depends only on the dialogue states it reads:
the last `max_history` turns' intent, entities, previous action, slots
and active loop (this assistant's stories hold no end-to-end text, so the
words of a message never reach TED). Conversations repeat those states all the time
("an FAQ question after an FAQ answer, no form active"), so the prediction
is kept per state sequence and reused: the same input gives the same
output, without running the network again.

When TED does read text (end-to-end stories were added), nothing is
cached and TED runs as it always does. The cache is
per process, bounded (least recently used first out), and belongs to the
loaded model: a new model is a new policy object with an empty cache.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from rasa.core.featurizers.precomputation import MessageContainerForCoreFeaturization
from rasa.core.policies.policy import PolicyPrediction, SupportedData
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

from serving.patches import check_rasa_version

# Distinct dialogue-state sequences kept; each entry is one probability list.
CACHE_SIZE = 4096


def frozen(value: Any) -> Hashable:
    """A hashable copy of a dialogue state (dicts of dicts, tuples, strings, numbers)."""
    if isinstance(value, dict):
        return tuple(sorted((key, frozen(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return tuple(frozen(item) for item in value)
    return value


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITH_END_TO_END_SUPPORT, is_trainable=True
)
class CachedTEDPolicy(TEDPolicy):
    """Rasa's TEDPolicy plus a per-process cache of its predictions by dialogue state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check_rasa_version()  # reads TED's featurizer the way Rasa 3.6.21 does
        super().__init__(*args, **kwargs)
        self._predictions: OrderedDict[Hashable, PolicyPrediction] = OrderedDict()

    def _reads_only_states(self) -> bool:
        """True when TED's input is the dialogue states alone.

        Without user text TED never predicts entities either: it tags them only
        in a prediction made from the text (`_create_optional_event_for_entities`).
        """
        return (
            self.model is not None and not self.only_e2e and TEXT not in (self.fake_features or {})
        )

    def state_key(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None,
    ) -> Hashable:
        """The states TED featurises for this prediction, as `_featurize_for_prediction` does."""
        ml_only = self.supported_data() == SupportedData.ML_DATA
        states = self.featurizer.prediction_states(
            [tracker],
            domain,
            use_text_for_last_user_input=False,
            ignore_rule_only_turns=ml_only,
            rule_only_data=rule_only_data,
            ignore_action_unlikely_intent=ml_only,
        )
        return frozen(states[0])

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        precomputations: MessageContainerForCoreFeaturization | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        if not self._reads_only_states():
            return super().predict_action_probabilities(
                tracker, domain, rule_only_data, precomputations, **kwargs
            )
        key = self.state_key(tracker, domain, rule_only_data)
        known = self._predictions.get(key)
        if known is None:
            known = super().predict_action_probabilities(
                tracker, domain, rule_only_data, precomputations, **kwargs
            )
            self._predictions[key] = known
            if len(self._predictions) > CACHE_SIZE:
                self._predictions.popitem(last=False)
        else:
            self._predictions.move_to_end(key)
        answer = copy.copy(known)  # lists of its own: nothing downstream changes the cached one
        answer.probabilities = list(known.probabilities)
        answer.events = list(known.events)
        answer.optional_events = list(known.optional_events)
        return answer
