<?php
/**
 * Plugin Name:       Deskbell
 * Description:       Adds the Deskbell help widget to your site, plus shortcodes and a block that show your Deskbell knowledge base inside pages.
 * Version:           0.2.0
 * Requires at least: 6.1
 * Requires PHP:      7.4
 * Author:            Deskbell
 * License:           GPLv2 or later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       deskbell
 *
 * @package Deskbell
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'DESKBELL_VERSION', '0.2.0' );
define( 'DESKBELL_FILE', __FILE__ );
define( 'DESKBELL_DIR', __DIR__ );

require_once DESKBELL_DIR . '/includes/options.php';
require_once DESKBELL_DIR . '/includes/remote.php';
require_once DESKBELL_DIR . '/includes/loader.php';
require_once DESKBELL_DIR . '/includes/shortcodes.php';
require_once DESKBELL_DIR . '/includes/block.php';

if ( is_admin() ) {
	require_once DESKBELL_DIR . '/includes/admin.php';
}
