from django.apps import AppConfig


class PgapConfig(AppConfig):
    name = "pgap"
    verbose_name = "P-GAP"

    def ready(self) -> None:
        from integrations import events
        from integrations.services import config, dixa_webhooks
        from ivr import member_extras
        from pgap import dashboard, erasure, selectors  # noqa: F401  (dashboard: its step)
        from pgap.services import capture, member, setup  # capture registers its outbox

        events.subscribe("ConversationClosed", "pgap", capture.conversation_closed_capture)
        events.subscribe(
            "ConversationCustomAttributeUpdated", "pgap", capture.attribute_updated_capture
        )
        config.register_section("pgap", setup.pgap_setup_apply)
        dixa_webhooks.register_event_types("pgap", selectors.dixa_event_types)
        member_extras.register("pgap", member.survey_member_extras)
        erasure.register()
