# IVR mappings, survey triggers and delivery attempts arrive with the survey relay.
