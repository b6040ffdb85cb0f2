import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../auth/auth.decorators.js';
import { ApiAuthenticatedErrors } from '../common/api-error.responses.js';
import { DataNodesService } from './data-nodes.service.js';
import { FleetSecrets } from './fleet-secrets.service.js';

export class FleetSecretRotationDto {
  @ApiProperty({ description: 'Id (a short hash, not the secret) of the fleet secret now current.' })
  current!: string;
  @ApiProperty({ type: [String], description: 'Ids of the secrets no longer accepted.' })
  retired!: string[];
  @ApiProperty({ description: 'Attached writers whose credentials were renewed under the new secret.' })
  writersRenewed!: number;
}

@ApiTags('storage')
@ApiAuthenticatedErrors()
@Controller('v1/fleet/secret')
export class FleetSecretsController {
  constructor(
    private readonly secrets: FleetSecrets,
    private readonly dataNodes: DataNodesService,
  ) {}

  @Post('rotate')
  @HttpCode(200)
  @AdminOnly()
  @ApiOperation({
    summary: 'Rotates the fleet secret that authenticates storage links, without dropping a link.',
    description:
      'The new secret becomes current while the old one is still accepted, every attached writer gets a ' +
      'credential under the new one on its open links, then the old one is retired. If a writer cannot be ' +
      'renewed, the old secret stays accepted and the call fails naming it: rotate again once it answers.',
  })
  @ApiOkResponse({ type: FleetSecretRotationDto })
  rotate(): Promise<FleetSecretRotationDto> {
    return this.secrets.rotate(() => this.dataNodes.renewCredentials('fleet secret rotation'));
  }
}
