"""Error messages in the caller's language: `Accept-Language: fr-FR` (or fr, fr-CA) gives the
French message and the same stable code; no header, or a language we lack, gives English."""

from __future__ import annotations

from bodhi_e2e.client import BodhiClient

FRENCH = {"Accept-Language": "fr-FR"}


def test_a_refused_anonymous_call_is_explained_in_french(bodhi: BodhiClient) -> None:
    french = bodhi.http.get("/bodhi/v1/models", headers=FRENCH)
    english = bodhi.http.get("/bodhi/v1/models")
    german = bodhi.http.get("/bodhi/v1/models", headers={"Accept-Language": "de-DE"})
    assert (french.status_code, english.status_code, german.status_code) == (401, 401, 401)
    assert french.json()["error"] == {
        "message": "Une authentification est requise.",
        "type": "authentication_error",
        "code": "invalid_access",
    }
    assert english.json()["error"]["message"] == "Authentication is required."
    assert german.json() == english.json()
    assert french.headers["content-language"] == "fr-FR"


def test_a_missing_model_names_it_in_the_callers_language(admin: BodhiClient) -> None:
    path = "/bodhi/v1/models/no-such-model-here"
    french = admin.http.get(path, headers={"Accept-Language": "en;q=0.2, fr-CA"})
    english = admin.http.get(path)
    assert (french.status_code, english.status_code) == (404, 404)
    fr_error, en_error = french.json()["error"], english.json()["error"]
    assert fr_error["code"] == en_error["code"]
    assert fr_error["message"] != en_error["message"]
    for message in (fr_error["message"], en_error["message"]):
        assert "no-such-model-here" in message  # the service's detail names the model


def test_ollama_errors_keep_their_shape_with_a_french_message(admin: BodhiClient) -> None:
    response = admin.http.post("/api/show", json={"model": "nope:latest"}, headers=FRENCH)
    assert response.status_code == 404
    assert response.json() == {
        "error": "Le modèle demandé n'est pas disponible ici (model 'nope:latest' not found).",
        "code": "model_not_found",
    }
