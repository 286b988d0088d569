"""Mail about suspicious sign-in requests: to the helpdesk after a "Deny and report", and to
the person and the helpdesk when their sign-in switches to a typed code (push bombing).

Every alert is sent after the database transaction commits (``transaction.on_commit``), never
inside it: a slow or dead mail server must not hold a write lock or undo what was recorded.
All mail leaves through :func:`send_mail`, the one place to hand it to an outbox instead.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from vahva.conf import settings
from vahva.gateways import outbox

from .models import PushChallenge, PushPause

log = logging.getLogger(__name__)


def send_mail(subject: str, body: str, to: str, *, about: str) -> bool:
    """Send one plain-text mail through the outbox (after the commit; kept and retried by
    `vahva outbox` if the process dies first); False when there is no address.

    ``about`` names the alert in the log. The audit log holds every alert as well, so a mail
    server being down must not turn a person's answer or a sign-in into an error: the outbox
    marks such a mail failed instead of raising.
    """
    if not to:
        return False
    log.info("mail about %s to the outbox", about)
    outbox.send_mail_after_commit(subject, body, [to])
    return True


def _when(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M %Z}"


def report_to_helpdesk(challenge_id: uuid.UUID) -> None:
    """E-mail the helpdesk about a reported request (the audit log has it as well)."""
    challenge = PushChallenge.objects.filter(pk=challenge_id).select_related("user").first()
    if challenge is None:
        return
    context = challenge.context or {}
    user = challenge.user
    hold = settings.PUSH_REPORT_HOLD // 60
    with outbox.in_staff_language():
        lines = [
            _('%(email)s answered a sign-in request with "Deny and report" (it was not them).')
            % {"email": user.email},
            _("Time: %(time)s") % {"time": f"{challenge.answered_at:%Y-%m-%d %H:%M:%S %Z}"},
            _("Address of the sign-in: %(address)s")
            % {"address": context.get("ip") or _("unknown")},
            _("Service: %(service)s") % {"service": context.get("service") or "-"},
            "",
            _(
                "Their password is probably known to someone else: contact them and have it "
                "changed."
            ),
            ngettext(
                "Sign-in requests to their app are held for %(minutes)d minute.",
                "Sign-in requests to their app are held for %(minutes)d minutes.",
                hold,
            )
            % {"minutes": hold},
        ]
        subject = _("[%(organisation)s] Reported sign-in request: %(email)s") % {
            "organisation": settings.ORGANISATION_NAME,
            "email": user.email,
        }
    send_mail(
        subject,
        "\n".join(lines),
        settings.HELPDESK_EMAIL,
        about=f"report {challenge_id}",
    )


def pause_started(user_id: Any) -> None:
    """Tell the person and the helpdesk that sign-in requests to the person's app stopped
    after suspicious attempts, and until when a typed code is asked instead."""
    pause = PushPause.objects.filter(user_id=user_id).select_related("user").first()
    if pause is None:
        return
    user = pause.user
    organisation = settings.ORGANISATION_NAME
    until = _when(pause.until)
    # In the person's own language: the sign-in that triggered this (and whose language is
    # active now) is most likely the attacker's.
    with outbox.in_language_of(user):
        person = [
            _("Hello,"),
            "",
            ngettext(
                "%(count)d recent sign-in to your %(organisation)s account used your password, "
                "and the request to your vahva app was denied, reported or not answered.",
                "%(count)d recent sign-ins to your %(organisation)s account used your password, "
                "and each time the request to your vahva app was denied, reported or not answered.",
                pause.attempts,
            )
            % {"organisation": organisation, "count": pause.attempts},
            _(
                "To protect you from a stream of requests, we stopped sending them to your app "
                "until %(until)s. Until then, sign in with the code shown in the vahva app, or "
                "another of your methods."
            )
            % {"until": until},
            "",
            _(
                "If these sign-ins were not yours, someone else knows your password: change it "
                "now. The helpdesk has been told."
            ),
        ]
        send_mail(
            _("[%(organisation)s] Sign-in requests to your app are paused")
            % {"organisation": organisation},
            "\n".join(person),
            user.email,
            about=f"pause of {user_id} (person)",
        )
    window = settings.PUSH_SUSPICIOUS_WINDOW // 3600
    with outbox.in_staff_language():
        helpdesk = [
            _("Sign-in requests to the app of %(email)s are paused until %(until)s:")
            % {"email": user.email, "until": until},
            ngettext(
                "%(count)d sign-in with the right password in the last %(hours)d hours ended "
                "with a request that was denied, reported or not answered (push bombing?).",
                "%(count)d sign-ins with the right password in the last %(hours)d hours ended "
                "with a request that was denied, reported or not answered (push bombing?).",
                pause.attempts,
            )
            % {"count": pause.attempts, "hours": window},
            "",
            _(
                "They sign in with the app's offline code or another method meanwhile. Their "
                "password is probably known to someone else: contact them and have it changed."
            ),
        ]
        subject = _("[%(organisation)s] Sign-in requests paused: %(email)s") % {
            "organisation": organisation,
            "email": user.email,
        }
    send_mail(
        subject,
        "\n".join(helpdesk),
        settings.HELPDESK_EMAIL,
        about=f"pause of {user_id} (helpdesk)",
    )
