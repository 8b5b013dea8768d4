"""The clearing office: inbox, case view, assessment, workflow, audit trail."""
