from rest_framework.routers import SimpleRouter

from ivr.api.mappings import MappingViewSet
from ivr.api.surveys import SurveyViewSet

router = SimpleRouter(trailing_slash=False)
router.register("surveys", SurveyViewSet, basename="api-survey")
router.register("mappings", MappingViewSet, basename="api-mapping")

urlpatterns = router.urls
