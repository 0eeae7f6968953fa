from urllib.parse import parse_qs, urlparse


def _next_of(response) -> str:
    return parse_qs(urlparse(response.headers["Location"]).query)["next"][0]


def test_signed_out_visitor_returns_to_the_exact_page(client):
    assert _next_of(client.get("/")) == "/"
    assert _next_of(client.get("/results?x=1")) == "/results?x=1"


def test_staff_sign_in_keeps_a_clean_next(client):
    assert _next_of(client.get("/staff/")) == "/staff/"
