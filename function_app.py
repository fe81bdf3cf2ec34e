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
from handlers.routes import BY_NAME

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

ALL_METHODS = [m.value for m in func.HttpMethod]


def _http(name: str):  # noqa: ANN202 - the decorator type is the SDK's own
    route = BY_NAME[name]
    level = func.AuthLevel.ANONYMOUS if route.anonymous else func.AuthLevel.FUNCTION
    return app.route(route=route.template, methods=ALL_METHODS, auth_level=level)


@app.function_name("eventgrid_trigger")
@app.event_grid_trigger(arg_name="event")
def eventgrid_trigger(event: func.EventGridEvent) -> None:
    """HealthResources and Microsoft.Resources system topics; either schema (the converter picks)."""
    eventgrid.handle_trigger(event)


@app.function_name("sweep")
@app.timer_trigger(arg_name="timer", schedule="%TIMER_SCHEDULE%", run_on_startup=False, use_monitor=True)
def sweep_timer(timer: func.TimerRequest) -> None:
    sweep.run(past_due=timer.past_due)


@app.function_name("eventgrid_webhook")
@_http("eventgrid_webhook")
def eventgrid_webhook(req: func.HttpRequest) -> func.HttpResponse:
    return respond("eventgrid_webhook", req)


@app.function_name("alerts")
@_http("alerts")
def alerts(req: func.HttpRequest) -> func.HttpResponse:
    return respond("alerts", req)


@app.function_name("autoscale")
@_http("autoscale")
def autoscale(req: func.HttpRequest) -> func.HttpResponse:
    return respond("autoscale", req)


@app.function_name("rerun")
@_http("rerun")
def rerun(req: func.HttpRequest) -> func.HttpResponse:
    return respond("rerun", req)


@app.function_name("incidents")
@_http("incidents")
def incidents(req: func.HttpRequest) -> func.HttpResponse:
    return respond("incidents", req)


@app.function_name("incident")
@_http("incident")
def incident(req: func.HttpRequest) -> func.HttpResponse:
    return respond("incident", req)


@app.function_name("health")
@_http("health")
def health(req: func.HttpRequest) -> func.HttpResponse:
    return respond("health", req)
