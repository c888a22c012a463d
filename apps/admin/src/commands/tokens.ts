import { Command, Option } from 'commander';
import type { AccessTokenView, TokenRoleName } from '../admin-views.js';
import { printJson, printLine, table } from '../output.js';
import { adminCommand, runAction } from './command-kit.js';

const ROLES: TokenRoleName[] = ['admin', 'agent', 'reader'];

const SHOWN_ONCE = 'This is the only time the token is shown: jobkeep keeps only a hash of it. Store it now.';

/** --node given again and again. */
const collect = (value: string, previous: string[] = []) => [...previous, value];

const scope = (token: AccessTokenView) => (token.nodeIds.length === 0 ? 'all' : token.nodeIds.join(', '));

export function tokensCommand(): Command {
  const create = adminCommand(
    'create',
    'makes a bearer token and prints it, this once: only a hash of its secret is kept. Offline, the data directory is created if there is none, so that the first admin token can be made before the server first starts',
    [
      'tokens create --role admin --name root --data-dir ./data',
      'tokens create --role agent --name compute-7 --node compute-7',
      'tokens create --role reader --name dashboard --json',
    ],
  )
    .addOption(new Option('--role <role>', 'admin: everything; agent: stores, leases, locks and the registry; reader: reads only').choices(ROLES).makeOptionMandatory())
    .requiredOption('--name <name>', 'what the token is for; unique among active tokens')
    .option('--node <id>', 'agent only: a node whose databases the token may write (again for more); every node when none', collect)
    .action((options: { role: TokenRoleName; name: string; node?: string[] }, self: Command) =>
      runAction(
        self,
        async ({ backend, json }) => {
          const created = await backend.createAccessToken({ name: options.name, role: options.role, nodeIds: options.node ?? [] });
          if (json) {
            printJson(created);
            // stderr, so that stdout stays one JSON document.
            process.stderr.write(`jobkeep-admin: ${SHOWN_ONCE}\n`);
            return;
          }
          const { accessToken } = created;
          printLine(`created access token ${accessToken.id} (name ${accessToken.name}, role ${accessToken.role}, nodes ${scope(accessToken)}):`);
          printLine(created.token);
          printLine(SHOWN_ONCE);
        },
        { needsDataDir: true },
      ),
    );

  const list = adminCommand('list', 'the access tokens by name (never their secrets); revoked ones too with --all', ['tokens list', 'tokens list --all --data-dir ./data --json'])
    .option('--all', 'revoked tokens too')
    .action((options: { all?: boolean }, self: Command) =>
      runAction(
        self,
        async ({ backend, json }) => {
          const accessTokens = await backend.listAccessTokens({ includeRevoked: options.all === true });
          if (json) {
            printJson({ accessTokens });
            return;
          }
          printLine(
            table(
              ['ID', 'NAME', 'ROLE', 'NODES', 'CREATED', 'REVOKED'],
              accessTokens.map((token) => [token.id, token.name, token.role, scope(token), token.createTime, token.revokeTime]),
            ),
          );
        },
        { needsDataDir: true },
      ),
    );

  const revoke = adminCommand('revoke', 'ends a token at once; revoking a revoked token changes nothing', ['tokens revoke 3f9c0a1b2d4e5f60', 'tokens revoke 3f9c0a1b2d4e5f60 --data-dir ./data --json'])
    .argument('<id>', 'the token id, as tokens list shows it')
    .action((id: string, _options: unknown, self: Command) =>
      runAction(
        self,
        async ({ backend, json }) => {
          const accessToken = await backend.revokeAccessToken(id);
          if (json) printJson({ accessToken });
          else printLine(`revoked access token ${accessToken.id} (name ${accessToken.name}) at ${accessToken.revokeTime}`);
        },
        { needsDataDir: true },
      ),
    );

  return new Command('tokens').description('the bearer tokens callers present: create, list and revoke them').addCommand(create).addCommand(list).addCommand(revoke);
}
