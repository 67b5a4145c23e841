import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcma.settings")

application = get_wsgi_application()

# Load the URLconf and with it every view module (Django would on the first request), then freeze all that is
# loaded: it lives as long as the worker, and freezing spares the cyclic GC from re-scanning it on each full
# collection. With 500-item API pages those scans (~20 ms each) were the slow tail of response times.
import mcma.urls  # noqa: E402, F401

gc.freeze()
# A 500-song page allocates tens of thousands of objects that live until the answer is sent. At the default
# threshold (700) the young collections keep finding them alive and promote them, and every few thousand promoted
# objects trigger a full collection: a quarter of the time spent building a page. Collecting the youngest
# generation every 20,000 allocations instead lets a page's objects die young, freed by reference counting.
_, older, oldest = gc.get_threshold()
gc.set_threshold(20_000, older, oldest)
