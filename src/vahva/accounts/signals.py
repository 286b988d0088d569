"""What the accounts room tells the others (it knows none of them): other rooms connect
receivers in their ``AppConfig.ready``."""

from django.dispatch import Signal

#: A person's password was set to a new value (not a hash upgrade at sign-in). ``user``.
password_changed = Signal()
#: Every session of a person was ended ("sign out everywhere"). ``user``.
signed_out_everywhere = Signal()
