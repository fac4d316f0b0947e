export interface Instruction {
  readonly line: number;
  readonly name: string;
  readonly args: string;
}
export interface Stage {
  readonly name: string;
  readonly image: string;
  readonly instructions: Instruction[];
  readonly env: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly args: Record<string, string>;
  readonly argDefaults: Record<string, string | undefined>;
}
export declare const DOCKER_STOP_TIMEOUT_MS: number;
export declare const NODE_LTS_END_OF_LIFE: Readonly<Record<number, string>>;
export declare function parseDockerfile(text: string): Instruction[];
export declare function planStages(instructions: Instruction[], buildArgs?: Record<string, string>): Stage[];
export declare function substitute(text: string, vars: Record<string, string | undefined>): string;
export declare function parseKeyValues(args: string, vars: Record<string, string | undefined>): Array<[string, string]>;
export declare function dockerignoreMatcher(text: string): ((path: string) => boolean) & { hasExceptions: boolean };
export declare function enginesAdmitMajor(range: string, major: number): boolean;
export declare function staticProblems(stages: Stage[], packageJson: { version: string; engines?: { node?: string } }, today?: Date): string[];
