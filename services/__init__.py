"""One package per independent service; `services.registry` names them for `clients run`."""
