import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
os.environ["MYSITE_INTERFACE"] = "asgi"  # settings.py pools connections under ASGI
application = get_asgi_application()
