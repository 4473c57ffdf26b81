# Agent scores, survey responses and gap analytics arrive with the P-GAP capability.
