from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "haven.web.core"
    label = "core"
