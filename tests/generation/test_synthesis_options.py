"""The yield options of QA synthesis, without Django: answer extraction, exemplar rotation, the exemplar-copy
and round-trip rejection reasons, k samples with best-N selection, and one-line parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generation.answer_extraction import candidates, pick_answers
from generation.engine.base import GenerationOutput, SamplingParams
from generation.exemplars import TEMPLATE_SOURCE, Exemplar, ExemplarPool, answer_sentences, build_pool
from generation.parsing import parse_line
from generation.prompts import default_template, render_prompt
from generation.round_trip import match_score
from generation.synthesis import PassageInput, Renderer, SynthesisOptions, synthesize
from generation.validation import RejectionReason, ValidationConfig, check_pair, exemplar_copy

JA = default_template("ja", 1)
EN = default_template("en", 1)
JA_CONFIG = ValidationConfig.for_language("ja")
EN_CONFIG = ValidationConfig.for_language("en")


# ------------------------------------------------------------------------------------ answer extraction


def test_japanese_answers_are_names_numbers_and_noun_phrases_from_the_passage():
    passage = "琵琶湖は滋賀県にある日本最大の湖で、面積は約670平方キロメートルである。1982年に新しい橋が完成した。"
    found = [c.text for c in candidates(passage, "ja")]
    assert {"琵琶湖", "滋賀県", "約670平方キロメートル", "1982年"} <= set(found)
    assert not {"こと", "ため", "で", "は"} & set(found)
    assert all(a in passage for a in found)


def test_japanese_adjectival_stems_are_not_answers_but_names_ending_in_one_are():
    passage = "その映像は鮮明で、具体的な数学的理論を示した。2019年、柳本顕が立候補した。"
    found = {c.text for c in candidates(passage, "ja")}
    assert not {"鮮明", "具体的", "数学的"} & found
    assert {"柳本顕", "2019年"} <= found


def test_english_answers_are_names_numbers_and_noun_phrases_from_the_passage():
    passage = (
        "The Thames Barrier is a movable flood barrier across the River Thames in east London. It was "
        "completed in 1982 and its ten steel gates lie flat on the riverbed."
    )
    found = [c.text for c in candidates(passage, "en")]
    assert {"Thames Barrier", "River Thames", "1982", "ten steel gates", "movable flood barrier"} <= set(found)
    assert "1982 and" not in " ".join(found) and "It" not in found
    assert all(a in passage for a in found)


def test_picked_answers_are_spread_over_the_passage():
    passage = "東京は日本の首都である。" * 1 + "大阪は商業の町である。" + "札幌は1972年に冬季五輪を開いた。"
    picked = pick_answers(passage, "ja", 3)
    assert len(picked) == 3
    starts = [passage.find(a) for a in picked]
    assert starts == sorted(starts) and starts[-1] >= len(passage) // 2  # not all from the first sentence


@given(st.text(max_size=300), st.sampled_from(["ja", "en"]), st.integers(0, 6))
@settings(max_examples=60, deadline=None)
def test_answer_extraction_is_total_and_returns_passage_spans(text, language, n):
    picked = pick_answers(text, language, n)
    assert len(picked) <= n
    assert all(a and a in text for a in picked)


# ------------------------------------------------------------------------------------ exemplar rotation

_ROW = st.fixed_dictionaries(
    {
        "passage_id": st.integers(1, 40),
        "passage": st.text(min_size=1, max_size=50).filter(str.strip),
        "title": st.sampled_from(["", "A", "B", "C"]),
        "split": st.sampled_from(["train", "validation", "test", ""]),
        "pairs": st.lists(st.tuples(st.text(min_size=1, max_size=9), st.text(min_size=1, max_size=9)), max_size=3),
    }
)


@given(st.lists(_ROW, max_size=25), st.integers(1, 40), st.sampled_from(["", "A", "B"]), st.integers(0, 5))
@settings(max_examples=150, deadline=None)
def test_rotation_never_draws_the_passage_itself_its_article_or_an_evaluation_split(rows, passage_id, title, seed):
    template = Exemplar(JA.example_passage, JA.example_pairs)
    pool = build_pool(template, rows, seed=seed)
    this_text = next((r["passage"] for r in rows if r["passage_id"] == passage_id), "")
    drawn = pool.draw(passage_id, this_text, title)
    assert drawn is not None  # the template's own example is always eligible
    assert all(e.split == "train" for e in pool.references)
    if drawn.source != TEMPLATE_SOURCE:
        assert drawn.split == "train"
        assert drawn.passage_id != passage_id
        assert " ".join(drawn.passage.split()) != " ".join(this_text.split()) or not this_text
        assert not title or drawn.title != title
    assert pool.draw(passage_id, this_text, title) == drawn  # seeded: the same passage draws the same
    assert (
        ExemplarPool.from_list(json.loads(json.dumps(pool.to_list())), seed=seed).draw(passage_id, this_text, title)
        == drawn
    )  # and so does the pool a run stores


def test_rotation_uses_more_than_one_exemplar():
    rows = [
        {"passage_id": i, "passage": f"passage {i} text", "title": f"t{i}", "split": "train", "pairs": [("q?", "a")]}
        for i in range(1, 30)
    ]
    pool = build_pool(Exemplar("example", (("q?", "a"),)), rows)
    sources = {pool.draw(1000 + k).source for k in range(40)}
    assert len(sources) > 10


@pytest.mark.parametrize(
    "passage, answers, shown",
    [
        (
            "琵琶湖は滋賀県にある。面積は約670平方キロメートル。日本最大の湖だ。",
            ["滋賀県", "日本最大"],
            "琵琶湖は滋賀県にある。日本最大の湖だ。",
        ),
        (
            "It opened in 1984. It protects London! Was it costly? Yes.",
            ["1984", "costly"],
            "It opened in 1984. Was it costly?",
        ),
        ("It opened in 1984. It protects London.", ["1984. It"], "It opened in 1984. It protects London."),  # spans two
        ("It opened in 1984.", ["never"], "It opened in 1984."),  # not a span: the whole passage
    ],
)
def test_an_excerpted_exemplar_shows_the_sentences_holding_its_answers(passage, answers, shown):
    assert answer_sentences(passage, answers) == shown


def test_a_pool_of_excerpts_keeps_each_exemplar_s_answers_in_what_it_shows():
    rows = [
        {"passage_id": 1, "passage": "山は高い。川は長い。海は広い。", "title": "t", "split": "train",
         "pairs": [("川は？", "長い"), ("川は？", "長い"), ("海は？", "広い")]},
    ]  # fmt: skip
    whole, cut = build_pool(None, rows).references[0], build_pool(None, rows, excerpt=True).references[0]
    assert whole.passage == "山は高い。川は長い。海は広い。"
    assert cut.passage == "川は長い。海は広い。" and cut.pairs == whole.pairs == (
        ("川は？", "長い"),
        ("海は？", "広い"),
    )


# ----------------------------------------------------------------------------- exemplar-copy rejections

_JA_FILLER = st.text(alphabet="あいうえおかきくけこ山川東西", max_size=12)
_EN_FILLER = st.text(alphabet="abcdefgh ", max_size=20)


@given(st.sampled_from(list(JA.example_pairs)), _JA_FILLER)
@settings(max_examples=60, deadline=None)
def test_a_japanese_example_pair_echoed_for_another_passage_is_an_exemplar_copy(pair, filler):
    passage = "RKBラジオは、RKB毎日放送が運営しているAMラジオ局の呼称である。" + filler
    verdict = check_pair(*pair, passage, JA_CONFIG, set(), exemplar=(JA.example_passage, JA.example_pairs))
    assert verdict.reason is RejectionReason.EXEMPLAR_COPY
    assert RejectionReason.EXEMPLAR_COPY.label == "copies the one-shot example (its passage or pairs)"


@given(st.sampled_from(list(EN.example_pairs)), _EN_FILLER)
@settings(max_examples=60, deadline=None)
def test_an_english_example_pair_echoed_for_another_passage_is_an_exemplar_copy(pair, filler):
    passage = "Paris is the capital of France. The Eiffel Tower was built in 1889. " + filler
    verdict = check_pair(*pair, passage, EN_CONFIG, set(), exemplar=(EN.example_passage, EN.example_pairs))
    assert verdict.reason is RejectionReason.EXEMPLAR_COPY


def test_a_pair_about_the_passage_is_not_an_exemplar_copy_even_on_a_shared_topic():
    passage = "琵琶湖の南には瀬田の唐橋がある。唐橋は日本三名橋の一つである。"
    ok = check_pair("瀬田の唐橋はどこにありますか？", "琵琶湖の南", passage, JA_CONFIG, set(),
                    exemplar=(JA.example_passage, JA.example_pairs))  # fmt: skip
    assert ok.accepted
    en = "Paris is the capital of France. The Eiffel Tower was built in 1889."
    assert not exemplar_copy("When was the Eiffel Tower built?", "1889", en, EN.example_passage,
                             EN.example_pairs, EN_CONFIG)  # fmt: skip


@pytest.mark.parametrize(
    ("question", "answer", "passage"),
    [
        ("およそ何年ですか？", "607年", "法隆寺は奈良県にある寺で、607年に建てられた。"),
        ("その川は何ですか？", "利根川", "利根川は関東地方を流れる。"),
        ("どの県にありますか？", "奈良県", "法隆寺は奈良県にある寺で、607年に建てられた。"),
    ],
)
def test_sharing_only_the_example_questions_phrasing_is_not_a_copy(question, answer, passage):
    # "およそ", "は何", "ありますか" occur in the 琵琶湖 example's questions, not in its passage or answers
    assert not exemplar_copy(question, answer, passage, JA.example_passage, JA.example_pairs, JA_CONFIG)
    # the example's content still counts: its entities asked about another passage are a copy
    assert exemplar_copy("琵琶湖の面積はおよそ何平方キロメートルですか？", "約670平方キロメートル", passage,
                         JA.example_passage, JA.example_pairs, JA_CONFIG)  # fmt: skip


def test_without_an_exemplar_no_copy_check_runs():
    verdict = check_pair("琵琶湖はどの県にありますか？", "滋賀県", "滋賀県の話。", JA_CONFIG, set())
    assert RejectionReason.EXEMPLAR_COPY not in verdict.reasons


# ----------------------------------------------------------------------------------------- one-line parse


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_parse_line_is_total_and_returns_one_line(text):
    line = parse_line(text)
    assert "\n" not in line and "\r" not in line


@given(
    st.sampled_from(["質問:", "質問1：", "Question:", "Q1:", "**Q:**", "答え:", "Answer:", "A1:", ""]),
    st.sampled_from(["琵琶湖はどの県にありますか？", "When was it completed?", "滋賀県", "east London"]),
    st.sampled_from(["", "\n回答: x", "\nQ2: next?", "\n\n"]),
)
def test_parse_line_drops_the_label_and_what_follows(label, body, tail):
    assert parse_line(f" {label} {body}{tail}") == body


# ------------------------------------------------------------------------------------- round-trip filter


def test_round_trip_score_is_exact_match_or_token_f1_with_characters_for_japanese():
    assert match_score("滋賀県", "滋賀県", character_level=True) == 1.0
    assert match_score("滋賀", "滋賀県", character_level=True) == 0.8
    assert match_score("the east of London", "east London", character_level=False) == 0.8
    assert match_score("Paris", "France", character_level=False) == 0.0


class ScriptedModel:
    """A stand-in model whose completions are scripted: answer-aware prompts get a fixed question per
    answer, QA prompts (round trip) get the scripted answer to the question they end with."""

    def __init__(self, questions: dict[str, str], answers: dict[str, str]) -> None:
        self.questions, self.answers = questions, answers
        self.calls: list[list[str]] = []

    def __call__(self, prompts, params: SamplingParams) -> list[GenerationOutput]:
        self.calls.append([p.text for p in prompts])
        outputs = []
        for prompt in prompts:
            last = prompt.text.rstrip().splitlines()
            if last[-1].startswith("Answer:"):  # QA prompt: "...\nQuestion: q\nAnswer:"
                question = last[-2].removeprefix("Question:").strip()
                outputs.append(GenerationOutput(" " + self.answers.get(question, "no idea"), "stop"))
            else:  # answer-aware prompt: "...\nAnswer: a\nQuestion:"
                answer = last[-2].removeprefix("Answer:").strip()
                outputs.append(GenerationOutput(" " + self.questions.get(answer, "Is this a question?"), "stop"))
        return outputs


def _plain_renderer() -> Renderer:
    return Renderer(lambda t, p: render_prompt(t, p.text, mode="plain"), mode="plain")


def test_round_trip_keeps_pairs_the_model_answers_back_and_records_its_answer():
    passage = "Paris is in France. The Seine flows through Paris."
    question_for = {"Paris": "What is the capital of France?", "France": "Which country is Paris in?",
                    "Seine": "Which river flows through Paris?"}  # fmt: skip
    model = ScriptedModel(
        question_for,
        {
            "What is the capital of France?": "Lyon",
            "Which country is Paris in?": "France",
            "Which river flows through Paris?": "the Seine",
        },  # fmt: skip
    )
    options = SynthesisOptions(answer_aware=True, round_trip=True)
    template = EN.__class__.from_dict({**EN.to_dict(), "pairs_per_passage": 3})
    [result] = synthesize(
        [PassageInput(1, passage)], template, options, EN_CONFIG, _plain_renderer(), model, SamplingParams()
    )
    by_answer = {p.answer: p for p in result.pairs}
    assert set(by_answer) == {"Paris", "France", "Seine"}
    assert by_answer["Paris"].reasons == [RejectionReason.ROUND_TRIP]  # "capital of France" is not supported
    assert by_answer["Paris"].round_trip.model_answer == "Lyon"
    assert by_answer["France"].accepted and by_answer["France"].round_trip.score == 1.0
    assert by_answer["Seine"].accepted  # "the Seine" vs "Seine": articles are ignored
    assert RejectionReason.ROUND_TRIP.label == "answer not supported (round trip)"
    assert len(model.calls) == 2  # one batched call for the questions, one for the round trip


def test_k_samples_are_deduplicated_and_the_best_n_kept():
    passage = "Paris is in France. The Seine flows through Paris. The Louvre opened in 1793."
    questions = {"Paris": "Which city is in France?", "France": "Which country is Paris in?",
                 "Seine": "Which river flows through Paris?", "Louvre": "Which museum opened in 1793?",
                 "1793": "When did the Louvre open?"}  # fmt: skip
    answers = {"Which country is Paris in?": "France", "Which river flows through Paris?": "Seine",
               "When did the Louvre open?": "in 1793", "Which museum opened in 1793?": "The Louvre"}  # fmt: skip
    template = EN.__class__.from_dict({**EN.to_dict(), "pairs_per_passage": 2})
    options = SynthesisOptions(answer_aware=True, samples=3, round_trip=True)
    [result] = synthesize(
        [PassageInput(1, passage)], template, options, EN_CONFIG, _plain_renderer(),
        ScriptedModel(questions, answers), SamplingParams(),
    )  # fmt: skip
    assert len(result.samples) >= 4  # up to N x k answers were asked about
    kept = result.accepted
    assert len(kept) == 2
    assert all(p.round_trip.score == 1.0 for p in kept)  # best by round-trip score
    surplus = [p for p in result.pairs if RejectionReason.SURPLUS in p.reasons]
    assert surplus and all(p.round_trip.supported for p in surplus)


def test_k_samples_of_one_prompt_need_a_temperature():
    assert SynthesisOptions(samples=3).errors(temperature=0.0)
    assert not SynthesisOptions(samples=3).errors(temperature=0.7)
    assert not SynthesisOptions(samples=3, answer_aware=True).errors(temperature=0.0)
    assert SynthesisOptions(rotate_exemplars=True).errors(shots=0)
    assert SynthesisOptions().is_paper and not SynthesisOptions(round_trip=True).is_paper
