"""The public side: intake form, receipt, reporter mailbox."""
