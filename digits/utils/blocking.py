"""Heavy work inside a request (packing a model archive, extracting an upload) without freezing the server.

Under gevent every request shares one OS thread: a few seconds of gzip in a view would stall every
page and Socket.IO update for everybody. A real thread from gevent's pool lets the loop go on (zlib
and file I/O release the GIL); without gevent (tests, threaded servers) the work just runs inline.
"""


def run_blocking(fn, *args, **kwargs):
    try:
        from gevent import get_hub, monkey
    except ImportError:   # gevent is a dependency, but nothing here needs it
        return fn(*args, **kwargs)
    if not monkey.is_module_patched("threading"):
        return fn(*args, **kwargs)
    return get_hub().threadpool.apply(fn, args, kwargs)
