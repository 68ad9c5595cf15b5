"""Staff register models in the admin: each kind asks for its own fields (and refuses another kind's), a new
default takes over from the old one for its role and language, and a model saved before its files exist says
that it cannot be used yet."""

from __future__ import annotations

import pytest

from core.models import ModelEntry

pytestmark = pytest.mark.django_db

ADD = "/admin/core/modelentry/add/"


def _post(client, **fields):
    data = {"name": "", "kind": "hf", "role": "generator", "language": "", "path": "", "base_url": "",
            "api_model": "", "api_key_env": "", "num_layers": "", "converted_path": "", "notes": ""}  # fmt: skip
    data.update(fields)
    return client.post(ADD, data, follow=True)


def test_the_changelist_lists_registered_models_with_where_they_live(alice_client):
    ModelEntry.objects.create(name="local-qwen", kind="hf", role="generator", path="/srv/models/qwen")
    ModelEntry.objects.create(name="vllm", kind="openai", role="generator", base_url="http://gpu:8000/v1",
                              api_model="Qwen2.5-7B")  # fmt: skip

    html = alice_client.get("/admin/core/modelentry/?q=qwen").content.decode()

    assert "/srv/models/qwen" in html and "http://gpu:8000/v1 (Qwen2.5-7B)" in html
    assert "Add model" in html


def test_staff_register_a_local_hugging_face_model(alice_client, tmp_path):
    (tmp_path / "config.json").write_text("{}")

    response = _post(alice_client, name="my-model", kind="hf", role="generator", language="en", path=str(tmp_path))

    assert response.status_code == 200 and response.redirect_chain
    entry = ModelEntry.objects.get(name="my-model")
    assert (entry.kind, entry.role, entry.language, entry.path) == ("hf", "generator", "en", str(tmp_path))
    assert "cannot be used yet" not in response.content.decode()


def test_a_model_whose_directory_does_not_exist_yet_is_saved_with_a_warning(alice_client, tmp_path):
    response = _post(alice_client, name="later", kind="hf", path=str(tmp_path / "missing"))

    assert ModelEntry.objects.filter(name="later").exists()
    assert (
        "Saved, but it cannot be used yet" in response.content.decode()
        and "does not exist" in response.content.decode()
    )


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"kind": "openai", "base_url": "gpu:8000", "api_model": "m"}, "base_url", "http(s) base URL"),
        ({"kind": "openai", "base_url": "http://gpu:8000/v1"}, "api_model", "model name it serves"),
        ({"kind": "hf", "path": ""}, "path", "A local model needs its directory"),
        ({"kind": "gguf", "path": "/srv/models/qwen"}, "path", "the .gguf file itself"),
        ({"kind": "hf", "path": "/x", "base_url": "http://gpu/v1"}, "base_url", "Only an OpenAI-compatible endpoint"),
        ({"kind": "openai", "base_url": "http://g/v1", "api_model": "m", "api_key_env": "sk-123"}, "api_key_env",
         "NAME of an environment variable"),
        ({"kind": "hf", "path": "/x", "num_layers": "6"}, "num_layers", "Only a BERTScore encoder"),
        ({"kind": "hf", "path": "/x", "language": "english"}, "language", "A language code"),
    ],
)  # fmt: skip
def test_an_entry_that_could_never_load_is_refused_naming_the_field(alice_client, fields, field, says):
    response = _post(alice_client, name="bad", **fields)

    assert response.status_code == 200 and not response.redirect_chain
    assert says in response.content.decode()
    assert response.context["adminform"].form.errors[field]
    assert not ModelEntry.objects.filter(name="bad").exists()


def test_a_new_default_takes_over_from_the_old_one_for_its_role_and_language(alice_client):
    old = ModelEntry.objects.create(name="old", kind="hf", role="generator", language="ja", path="/a", is_default=True)
    other = ModelEntry.objects.create(name="en", kind="hf", role="generator", language="en", path="/b", is_default=True)

    response = _post(alice_client, name="new", kind="hf", role="generator", language="ja", path="/c", is_default="on")

    assert "New is now the default instead of old." in response.content.decode()
    assert list(ModelEntry.objects.filter(is_default=True).order_by("name").values_list("name", flat=True)) == [
        "en",
        "new",
    ]
    old.refresh_from_db(), other.refresh_from_db()
    assert not old.is_default and other.is_default
