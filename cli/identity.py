"""`deskbell identity`: the identity secret and how a site signs its visitors with it."""

from __future__ import annotations

import json
import secrets

import click

from widget_server.identity import sign
from widget_server.settings import Settings

from .options import settings_options

SNIPPETS = {
    "PHP": """<?php
// On your server, for the signed-in user; never put the secret in a page.
$secret = getenv('DESKBELL_IDENTITY_SECRET');
$who = ['name' => $user->name, 'email' => $user->email, 'user_id' => (string) $user->id];
$who['signature'] = hash_hmac('sha256', $who['user_id'], $secret);
?>
<script>Deskbell('identify', <?= json_encode($who, JSON_HEX_TAG | JSON_HEX_AMP) ?>);</script>""",
    "Python": """import hashlib, hmac, json, os

secret = os.environ["DESKBELL_IDENTITY_SECRET"].encode()
who = {"name": user.name, "email": user.email, "user_id": str(user.id)}
who["signature"] = hmac.new(secret, who["user_id"].encode(), hashlib.sha256).hexdigest()
# In the page (escape '<' so no value can end the script):
script = "Deskbell('identify', %s);" % json.dumps(who).replace("<", "\\\\u003c")""",
    "Node": """const crypto = require('crypto');

const who = { name: user.name, email: user.email, user_id: String(user.id) };
who.signature = crypto.createHmac('sha256', process.env.DESKBELL_IDENTITY_SECRET)
  .update(who.user_id).digest('hex');
// In the page (escape '<' so no value can end the script):
const script = `Deskbell('identify', ${JSON.stringify(who).replace(/</g, '\\\\u003c')});`;""",
}


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@click.command()
@click.option("--sign", "subject", metavar="USER_ID_OR_EMAIL",
              help="Print the signature of one user id (or email), to check your site's.")
@click.option("--json", "as_json", is_flag=True, help="Print the signature as JSON.")
@settings_options
def identity(settings: Settings, subject: str | None, as_json: bool) -> None:
    """Show the identity secret and how your site signs visitors with it.

    A visitor your site signs sees every request they opened, on any device, and can read,
    answer and rate it without the link of the browser they wrote from. Your server computes
    signature = HMAC-SHA256(identity_secret, user_id or email), as hex, for its signed-in
    user and passes it with Deskbell('identify', {email, name, user_id, signature}).

    \b
    Example:
        deskbell identity
        deskbell identity --sign customer-981
    """
    secret = settings.identity_secret
    if not secret:
        raise click.ClickException(
            "identity_secret is not set. Add it to deskbell.toml (one long random value, "
            f'for example identity_secret = "{new_secret()}") or set '
            "DESKBELL_IDENTITY_SECRET, restart the server, then run deskbell identity again")
    if subject is not None:
        if not subject.strip():
            raise click.BadParameter("give the user id (or email) exactly as your site signs it",
                                     param_hint="--sign")
        signature = sign(secret, subject)
        click.echo(json.dumps({"subject": subject, "signature": signature}) if as_json
                   else signature)
        return
    click.echo(f"identity_secret: {secret}\n")
    click.echo("Keep it on your server, as DESKBELL_IDENTITY_SECRET or in your own settings;\n"
               "anyone who has it can read the requests of any visitor.\n")
    click.echo("Sign the user id when your users have one (it survives a changed email), or\n"
               "the email when they do not (the signed email then sees every request opened\n"
               "with it). identity_required = true refuses requests from visitors your site\n"
               "did not sign.\n")
    for language, code in SNIPPETS.items():
        click.echo(f"-- {language}\n{code}\n")
    click.echo("-- WordPress\nPaste the secret into Settings > Deskbell > Identity secret.")


COMMANDS = [identity]
