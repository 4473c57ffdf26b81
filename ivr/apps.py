from django.apps import AppConfig


class IvrConfig(AppConfig):
    name = "ivr"
    verbose_name = "IVR mappings and survey relay"

    def ready(self) -> None:
        from integrations import events
        from integrations.services import config
        from ivr.services import config as ivr_config
        from ivr.services.triggers import conversation_abandoned_handle, conversation_closed_handle

        events.register("ConversationClosed", conversation_closed_handle)
        events.register("ConversationAbandoned", conversation_abandoned_handle)
        config.register_section("ivr_mappings", ivr_config.ivr_mappings_apply)
