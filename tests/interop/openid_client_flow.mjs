// panva's openid-client as a relying party of a live vahva, driven by test_openid_client.py.
//
//   ISSUER=... CLIENT_ID=... [CLIENT_SECRET=...] REDIRECT_URI=... node openid_client_flow.mjs
//
// 1. Discovery, then one JSON line on stdout: {"authorization_url": ...} (PKCE S256, nonce,
//    state). 2. The test signs in at vahva and writes the callback URL as one line on stdin.
// 3. Code grant (the library checks state, PKCE, the ID token's signature against the JWKS,
//    iss, aud, nonce, exp), userinfo, refresh; one JSON line with what it saw.
// Without CLIENT_SECRET the client is public (token endpoint auth "none", PKCE only).
import * as client from "openid-client";
import { createInterface } from "node:readline";

const { ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;

async function main() {
  const config = await client.discovery(
    new URL(ISSUER),
    CLIENT_ID,
    CLIENT_SECRET || undefined,
    CLIENT_SECRET ? undefined : client.None(),
    // Plain http on loopback; verify ID-token signatures (off by default over TLS).
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
  );
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: "openid profile email",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    nonce,
    state,
  });
  console.log(JSON.stringify({ authorization_url: url.href }));

  const lines = createInterface({ input: process.stdin });
  const callback = (await lines[Symbol.asyncIterator]().next()).value;
  lines.close();

  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  console.log(
    JSON.stringify({
      issuer: config.serverMetadata().issuer,
      claims,
      userinfo,
      refreshed_claims: refreshed.claims(),
      refresh_token_rotated:
        Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
    }),
  );
}

main().catch((error) => {
  console.error(`${error.name}: ${error.message}${error.code ? ` (${error.code})` : ""}`);
  if (error.cause) console.error(JSON.stringify(error.cause));
  process.exit(1);
});
