"""Azure Functions entry point (Python v2 programming model): bindings only, no logic.

Every function hands its trigger's input to ``handlers/``; ``serve`` runs the same handlers
behind the same routes locally. Importing this module (what the worker does to index it) loads
``azure.functions`` and the small ``handlers`` package only: the engine, the store and the
Azure SDK clients load on the first invocation that needs them.

HTTP functions bind every method, so that a wrong method gets the API's JSON 405 with
``Allow`` (as in ``serve``) rather than the host's bare 404. They use function keys
(``x-functions-key`` header or ``?code=``), except the health probe.
"""

import azure.functions as func

from handlers import eventgrid, sweep
from handlers.func_http import respond
from handlers.routes import ROUTES, Route

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

ALL_METHODS = [m.value for m in func.HttpMethod]


@app.function_name("eventgrid_trigger")
@app.event_grid_trigger(arg_name="event")
def eventgrid_trigger(event: func.EventGridEvent) -> None:
    """HealthResources and Microsoft.Resources system topics; either schema (the converter picks)."""
    eventgrid.handle_trigger(event)


@app.function_name("sweep")
@app.timer_trigger(arg_name="timer", schedule="%TIMER_SCHEDULE%", run_on_startup=False, use_monitor=True)
def sweep_timer(timer: func.TimerRequest) -> None:
    sweep.run(past_due=timer.past_due)


def _register_http(route: Route) -> None:
    """One HTTP function per route of the shared table, named after it."""

    def http_function(req: func.HttpRequest) -> func.HttpResponse:
        return respond(route.name, req)

    http_function.__name__ = http_function.__qualname__ = route.name
    level = func.AuthLevel.ANONYMOUS if route.anonymous else func.AuthLevel.FUNCTION
    bind = app.route(route=route.template, methods=ALL_METHODS, auth_level=level)
    app.function_name(route.name)(bind(http_function))


for _route in ROUTES:
    _register_http(_route)
