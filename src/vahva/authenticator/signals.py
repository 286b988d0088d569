"""What the authenticator room tells the others (it knows none of them): other rooms connect
receivers in their ``AppConfig.ready``."""

from django.dispatch import Signal

#: The person answered a request with "Deny and report" ("it wasn't me"). ``user``, and
#: ``purpose``: "signin" (someone else has the password), or "helpdesk" (someone called the
#: helpdesk in the person's name).
fraud_reported = Signal()
