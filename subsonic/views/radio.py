"""Internet radio stations: everyone lists them, admins manage them."""

from __future__ import annotations

from library import selectors, services
from subsonic import builders, ids
from subsonic.call import Call
from subsonic.ids import Kind
from subsonic.responses import Node


def get_internet_radio_stations(call: Call) -> Node:
    node = Node("internetRadioStations")
    node.add_list("internetRadioStation", [builders.radio_station(item) for item in selectors.radio_stations_list()])
    return node


def _station_id(call: Call) -> int:
    return ids.decode_as(call.params.required("id"), Kind.RADIO)


def create_internet_radio_station(call: Call) -> None:
    services.radio_station_create(
        actor=call.user,
        name=call.params.required("name"),
        stream_url=call.params.required("streamUrl"),
        homepage_url=call.params.text("homepageUrl") or "",
    )


def update_internet_radio_station(call: Call) -> None:
    services.radio_station_update(
        station_id=_station_id(call),
        actor=call.user,
        name=call.params.required("name"),
        stream_url=call.params.required("streamUrl"),
        homepage_url=call.params.text("homepageUrl") or "",
    )


def delete_internet_radio_station(call: Call) -> None:
    services.radio_station_delete(station_id=_station_id(call), actor=call.user)
