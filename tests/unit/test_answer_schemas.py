"""The answers the API renders match what /openapi.json says of them: every view validates
against its generated response schema, and no view carries a field the model leaves out."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema import ValidationError as NotAsDocumented
from pydantic import BaseModel, ValidationError

from bazaar.api.answer_schemas import Error, Offer, OfferActed, Player, TradeRecord, TradeResult
from bazaar.api.errors import error_body, from_validation_error
from bazaar.api.offers import offer_view
from bazaar.api.openapi import openapi_document
from bazaar.api.schemas import TradeIn, player_view, trade_record_view, trade_result_view
from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import InvalidRequest, UnknownPlayer
from bazaar.domain.model import ItemLine, PlayerState, TradeRequest, TradeSide
from bazaar.domain.offers import SERVER, Actor, open_offer, settled
from bazaar.domain.trading import Accepted, Rejected, TradeOutcome, execute_trade

AT = "2026-01-01T12:00:00.000000Z"
FOOD = 5


def _holds(view: dict[str, Any], model: type[BaseModel]) -> None:
    document = openapi_document()
    schema = {"$ref": f"#/components/schemas/{model.__name__}", **document}
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(view)
    assert set(view) <= set(model.model_fields), f"{model.__name__} lacks a field the API sends"


def _state(player_id: int, gold: int, items: dict[int, int]) -> PlayerState:
    return PlayerState(player_id, f"p{player_id}", "farmer", gold, items, 999, 1, AT)


def _trade(catalog: Catalog, food: int) -> TradeOutcome:
    request = TradeRequest(TradeSide(1, (ItemLine(FOOD, food),)), TradeSide(2, (), 20))
    return execute_trade(
        catalog, request, _state(1, 0, {FOOD: 10}), _state(2, 100, {}), trade_id=3, executed_at=AT
    )


def test_a_player_with_an_item_the_catalog_lacks_matches_the_player_schema(
    catalog: Catalog,
) -> None:
    _holds(player_view(catalog, _state(1, 5, {FOOD: 2, 404: 1})), Player)


@pytest.mark.parametrize("food", [3, 30], ids=["accepted", "rejected"])
def test_trade_answers_match_their_schemas(catalog: Catalog, food: int) -> None:
    outcome = _trade(catalog, food)
    assert isinstance(outcome, Accepted if food == 3 else Rejected)
    _holds(trade_result_view(catalog, outcome), TradeResult)
    _holds(trade_record_view(outcome), TradeRecord)


def test_offer_answers_open_accepted_and_failed_match_their_schemas(catalog: Catalog) -> None:
    request = TradeRequest(TradeSide(1, (ItemLine(FOOD, 3),)), TradeSide(2, (), 20))
    offer = open_offer(7, request, AT, 600)
    _holds(offer_view(catalog, offer), Offer)
    for food in (3, 30):
        outcome = _trade(catalog, food)
        done = settled(offer, Actor(2) if food == 3 else SERVER, outcome, AT)
        view = offer_view(catalog, done)
        _holds(view, Offer)
        _holds({"offer": view, "trade": trade_record_view(outcome)}, OfferActed)


def test_error_bodies_match_the_error_schema() -> None:
    _holds(error_body(UnknownPlayer("no player 9")), Error)
    _holds(error_body(InvalidRequest("bad", field="username")), Error)
    with pytest.raises(ValidationError) as caught:
        TradeIn.model_validate({"player_1": {"player_id": "x"}})
    body, status = from_validation_error(caught.value)
    assert status == 422
    _holds(body, Error)


def test_a_view_unlike_its_schema_is_caught() -> None:
    with pytest.raises(NotAsDocumented, match="required"):
        _holds({"reason": "x"}, Error)


def test_escrow_counter_offers_and_grants_match_their_schemas(catalog: Catalog) -> None:
    from bazaar.api.answer_schemas import AdjustedPlayer, OfferCountered
    from bazaar.domain.offers import countered, hold

    state = hold(_state(1, 50, {FOOD: 10}), TradeSide(1, (ItemLine(FOOD, 4),), 20))
    view = player_view(catalog, state)
    assert view["held"] == {"gold": 20, "items": [{"item_id": FOOD, "quantity": 4}]}
    _holds(view, Player)
    _holds({**view, "grant_id": 7}, AdjustedPlayer)
    request = TradeRequest(TradeSide(1, (ItemLine(FOOD, 4),), 20), TradeSide(2))
    original = countered(open_offer(5, request, AT, 60), Actor(2), AT, 6)
    counter = open_offer(6, TradeRequest(TradeSide(2, gold=1), TradeSide(1)), AT, 60, 5)
    answer = {"offer": offer_view(catalog, counter), "countered": offer_view(catalog, original)}
    assert answer["countered"]["countered_by"] == 6 and answer["offer"]["counter_of"] == 5
    _holds(answer, OfferCountered)


def test_every_offer_operation_documents_the_410_of_an_archived_offer() -> None:
    paths = openapi_document()["paths"]
    operations = [("get", "/offers/{offer_id}")] + [
        ("post", f"/offers/{{offer_id}}/{verb}")
        for verb in ("accept", "decline", "cancel", "counter")
    ]
    for verb, path in operations:
        assert "410" in paths[path][verb]["responses"], f"{verb.upper()} {path} lacks 410"
