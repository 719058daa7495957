/**
 * What request profiling hands to the OTLP push (docs/profiling.md): the requests the apps reported through
 * @perfwatch/sdk, and the CPU their samplers saw per route. Routes are the bounded labels /metrics uses (at most
 * `profiling.max_routes` per project, the rest `<other>`).
 */
export interface AppRequest {
  route: string;
  method: string;
  status: number;
  seconds: number;
}

export interface AppRouteCpu {
  route: string;
  method: string;
  seconds: number;
}

export type AppRequestListener = (project: string, requests: readonly AppRequest[], cpu: readonly AppRouteCpu[]) => void;
