from django.apps import AppConfig


class IvrConfig(AppConfig):
    name = "ivr"
    verbose_name = "IVR mappings and survey relay"

    def ready(self) -> None:
        from integrations import events
        from integrations.admin import made_from
        from integrations.services import config, dixa_webhooks
        from ivr import alerts, dashboard, erasure, metrics  # noqa: F401  (dashboard registers its panel)
        from ivr.selectors import dixa_event_types, dixa_queue_ids, surveys_made_from
        from ivr.services import config as ivr_config
        from ivr.services import retention  # noqa: F401  (registers its retention step)
        from ivr.services.triggers import conversation_abandoned_handle, conversation_closed_handle

        alerts.register_conditions()
        metrics.register()
        erasure.register()
        events.subscribe("ConversationClosed", "survey", conversation_closed_handle)
        events.subscribe("ConversationAbandoned", "survey", conversation_abandoned_handle)
        made_from.register(surveys_made_from)
        config.register_section("ivr_mappings", ivr_config.ivr_mappings_apply)
        dixa_webhooks.register_queue_source("ivr", dixa_queue_ids)
        dixa_webhooks.register_event_types("ivr", dixa_event_types)
        for key in ivr_config.DELIVERY_KEYS:
            config.register_section(key, ivr_config.delivery_policy_apply(key))
