// The storage node's admin calls, served on its health port next to GET /health: today one,
// deleting a volume when its cluster is deleted (docs/adr/0007-deleting-volumes.md). Errors have
// the project's `{ statusCode, error, message, details }` shape; libs/health bounds the bodies.
// Every route here needs `Authorization: Bearer <token>` (BOREALIS_NODE_TOKEN, docs/security.md);
// GET /health stays open and shows no secret.
import {
  type HealthServerRoute,
  HttpError,
  NODE_TOKEN_CHALLENGE,
  NodeTokenGuard,
} from '../../../libs/health/src/index.js';

/** What a volume name may be: the data node's attach accepts the same. */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Names echoed back in errors are cut to this length. */
const ECHOED_NAME_CHARS_MAX = 200;

export interface VolumeDropper {
  dropVolume(volume: string): Promise<{ volume: string; existed: boolean; keys: number }>;
}

/**
 * `DELETE /volumes/<name>`: the node forgets the volume and answers `200 { volume, existed, keys }`
 * once the drop is on disk. Every route needs the node's `token`, as the data node's lifecycle
 * calls do: the list is wrapped as a whole, so a route added later cannot forget the check.
 */
export function adminRoutes(node: VolumeDropper, token: string): HealthServerRoute[] {
  const guard = new NodeTokenGuard(token);
  const routes: HealthServerRoute[] = [
    {
      method: 'DELETE',
      path: /^\/volumes\/([^/]*)$/,
      summary: 'DELETE /volumes/<name>',
      handle: async (request) => {
        const volume = volumeName(request.params[0] ?? '');
        let dropped: Awaited<ReturnType<VolumeDropper['dropVolume']>>;
        try {
          dropped = await node.dropVolume(volume);
        } catch (error) {
          throw new HttpError(503, `volume ${volume} was not deleted: ${(error as Error).message}`, {
            volume,
          });
        }
        return { statusCode: 200, body: dropped };
      },
    },
  ];
  return routes.map((route) => ({
    ...route,
    handle: (request) => {
      const outcome = guard.check(request.headers);
      if (outcome !== 'ok') {
        throw new HttpError(401, NodeTokenGuard.refusal(outcome), null, { ...NODE_TOKEN_CHALLENGE });
      }
      return route.handle(request);
    },
  }));
}

function volumeName(encoded: string): string {
  let name: string;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    throw new HttpError(400, 'the volume name in the path is not valid percent-encoding', {
      volume: encoded.slice(0, ECHOED_NAME_CHARS_MAX),
    });
  }
  if (!VOLUME_NAME.test(name)) {
    throw new HttpError(
      400,
      "a volume name is 1–128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit",
      { volume: name.slice(0, ECHOED_NAME_CHARS_MAX) },
    );
  }
  return name;
}
