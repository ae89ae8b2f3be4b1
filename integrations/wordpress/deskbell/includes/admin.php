<?php
/**
 * Settings → Deskbell: the owner's form, built with the Settings API; every value escaped
 * where it is printed.
 *
 * @package Deskbell
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Add the page under Settings, for people who can manage options.
 */
function deskbell_add_settings_page() {
	add_options_page( __( 'Deskbell', 'deskbell' ), __( 'Deskbell', 'deskbell' ), 'manage_options', 'deskbell', 'deskbell_render_settings_page' );
}
add_action( 'admin_menu', 'deskbell_add_settings_page' );

/**
 * A "Settings" link next to Deactivate on the Plugins screen.
 *
 * @param array<string> $links Existing action links.
 * @return array<string>
 */
function deskbell_action_links( $links ) {
	$url = admin_url( 'options-general.php?page=deskbell' );
	array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'deskbell' ) . '</a>' );
	return $links;
}
add_filter( 'plugin_action_links_' . plugin_basename( DESKBELL_FILE ), 'deskbell_action_links' );

/**
 * Declare the fields; each is drawn by a small function below.
 */
function deskbell_add_fields() {
	add_settings_section( 'deskbell_widget', __( 'Widget', 'deskbell' ), '__return_false', 'deskbell' );
	$fields = array(
		'server_url' => __( 'Server URL', 'deskbell' ),
		'site'       => __( 'Site id', 'deskbell' ),
		'color'      => __( 'Colour', 'deskbell' ),
		'position'   => __( 'Position', 'deskbell' ),
		'label'      => __( 'Button label', 'deskbell' ),
		'locale'     => __( 'Language', 'deskbell' ),
		'mode'       => __( 'Mode', 'deskbell' ),
		'scope'      => __( 'Show on', 'deskbell' ),
		'identify'   => __( 'Logged-in users', 'deskbell' ),
		'identity_secret' => __( 'Identity secret', 'deskbell' ),
	);
	foreach ( $fields as $key => $title ) {
		$args = in_array( $key, array( 'scope', 'identify', 'position' ), true ) ? array() : array( 'label_for' => 'deskbell-' . $key );
		add_settings_field( 'deskbell-' . $key, $title, 'deskbell_field_' . str_replace( '-', '_', $key ), 'deskbell', 'deskbell_widget', $args );
	}
}
add_action( 'admin_init', 'deskbell_add_fields' );

/**
 * The page itself: options.php handles the nonce, capability check and saving.
 */
function deskbell_render_settings_page() {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	echo '<div class="wrap"><h1>' . esc_html( get_admin_page_title() ) . '</h1>';
	echo '<p>' . esc_html__( 'Deskbell adds a help button to your site. Visitors search your knowledge base and contact you from it. Enter the address of your Deskbell server to turn it on.', 'deskbell' ) . '</p>';
	echo '<form action="' . esc_url( admin_url( 'options.php' ) ) . '" method="post">';
	settings_fields( 'deskbell' );
	do_settings_sections( 'deskbell' );
	submit_button();
	echo '</form>';
	echo '<h2>' . esc_html__( 'In pages', 'deskbell' ) . '</h2><p>'
		. esc_html__( 'Use [deskbell_search] (or the “Deskbell search” block) for a search box with results in the page, and [deskbell_article slug="billing/refunds"] to embed one article.', 'deskbell' )
		. '</p></div>';
}

/**
 * Name attribute of one field of the option array.
 *
 * @param string $key Setting key.
 * @return string
 */
function deskbell_field_name( $key ) {
	return DESKBELL_OPTION . '[' . $key . ']';
}

/**
 * A text-like input with a description.
 *
 * @param string $key   Setting key.
 * @param string $type  Input type.
 * @param string $help  Description under the field.
 * @param string $extra Extra attributes, already escaped.
 */
function deskbell_input( $key, $type, $help, $extra = '' ) {
	$value = (string) deskbell_settings()[ $key ];
	printf(
		'<input type="%1$s" id="%2$s" name="%3$s" value="%4$s" class="regular-text" aria-describedby="%2$s-help"%5$s><p class="description" id="%2$s-help">%6$s</p>',
		esc_attr( $type ),
		esc_attr( 'deskbell-' . $key ),
		esc_attr( deskbell_field_name( $key ) ),
		esc_attr( $value ),
		$extra, // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- literal attributes from this file.
		esc_html( $help )
	);
}

/**
 * A <select> over an allowlist.
 *
 * @param string                $key     Setting key.
 * @param array<string, string> $choices Value => label.
 */
function deskbell_select( $key, $choices ) {
	$current = (string) deskbell_settings()[ $key ];
	echo '<select id="' . esc_attr( 'deskbell-' . $key ) . '" name="' . esc_attr( deskbell_field_name( $key ) ) . '">';
	foreach ( $choices as $value => $label ) {
		echo '<option value="' . esc_attr( $value ) . '"' . selected( $current, (string) $value, false ) . '>' . esc_html( $label ) . '</option>';
	}
	echo '</select>';
}

/** Server URL field. */
function deskbell_field_server_url() {
	deskbell_input( 'server_url', 'url', __( 'Your Deskbell server, for example https://help.example.com. The widget is added only once this is set.', 'deskbell' ), ' placeholder="https://help.example.com"' );
}

/** Site id field. */
function deskbell_field_site() {
	deskbell_input( 'site', 'text', __( 'Leave “default” unless your Deskbell server hosts several sites.', 'deskbell' ) );
}

/** Colour field. */
function deskbell_field_color() {
	deskbell_input( 'color', 'text', __( 'Button colour as a hex code, for example #1d4ed8. The text colour is chosen for contrast.', 'deskbell' ), ' pattern="#([0-9a-fA-F]{3}){1,2}" maxlength="7"' );
}

/** Position radios. */
function deskbell_field_position() {
	$current = (string) deskbell_settings()['position'];
	echo '<fieldset><legend class="screen-reader-text">' . esc_html__( 'Position', 'deskbell' ) . '</legend>';
	foreach ( array(
		'right' => __( 'Bottom right', 'deskbell' ),
		'left'  => __( 'Bottom left', 'deskbell' ),
	) as $value => $label ) {
		echo '<label><input type="radio" name="' . esc_attr( deskbell_field_name( 'position' ) ) . '" value="' . esc_attr( $value ) . '"' . checked( $current, $value, false ) . '> ' . esc_html( $label ) . '</label><br>';
	}
	echo '</fieldset>';
}

/** Button label field. */
function deskbell_field_label() {
	deskbell_input( 'label', 'text', __( 'Text on the help button (up to 40 characters). Empty: “Help” in the visitor’s language.', 'deskbell' ), ' maxlength="40"' );
}

/** Language select. */
function deskbell_field_locale() {
	deskbell_select(
		'locale',
		array(
			''   => __( 'Same as the page', 'deskbell' ),
			'en' => 'English',
			'es' => 'Español',
			'de' => 'Deutsch',
			'fr' => 'Français',
			'ar' => 'العربية',
		)
	);
}

/** Mode select. */
function deskbell_field_mode() {
	deskbell_select(
		'mode',
		array(
			'self-service' => __( 'Self-service first: search, then contact', 'deskbell' ),
			'neutral'      => __( 'Neutral: search and contact side by side', 'deskbell' ),
			'ask-first'    => __( 'Ask first: the contact form opens first', 'deskbell' ),
		)
	);
}

/** Scope radios plus the post types to show the widget on. */
function deskbell_field_scope() {
	$settings = deskbell_settings();
	echo '<fieldset><legend class="screen-reader-text">' . esc_html__( 'Show on', 'deskbell' ) . '</legend>';
	foreach ( array(
		'all'   => __( 'All pages', 'deskbell' ),
		'types' => __( 'Only single entries of these types:', 'deskbell' ),
	) as $value => $label ) {
		echo '<label><input type="radio" name="' . esc_attr( deskbell_field_name( 'scope' ) ) . '" value="' . esc_attr( $value ) . '"' . checked( $settings['scope'], $value, false ) . '> ' . esc_html( $label ) . '</label><br>';
	}
	foreach ( deskbell_post_types() as $type ) {
		$on = in_array( $type->name, (array) $settings['post_types'], true );
		echo '<label style="margin-left:1.5em"><input type="checkbox" name="' . esc_attr( deskbell_field_name( 'post_types' ) ) . '[]" value="' . esc_attr( $type->name ) . '"' . checked( $on, true, false ) . '> ' . esc_html( $type->labels->name ) . '</label><br>';
	}
	echo '</fieldset>';
}

/** Identify toggle. */
function deskbell_field_identify() {
	$on = (bool) deskbell_settings()['identify'];
	echo '<label><input type="checkbox" name="' . esc_attr( deskbell_field_name( 'identify' ) ) . '" value="1"' . checked( $on, true, false ) . '> '
		. esc_html__( 'Fill in the contact form with the logged-in user’s name and email', 'deskbell' ) . '</label>';
	echo '<p class="description">' . esc_html__( 'They are handed to the widget in the user’s browser and reach your Deskbell server only when the user sends a request.', 'deskbell' ) . '</p>';
}

/** The identity secret: with it, logged-in users see all their requests on any device. */
function deskbell_field_identity_secret() {
	$set = '' !== (string) deskbell_settings()['identity_secret'];
	echo '<input type="password" id="deskbell-identity_secret" class="regular-text" autocomplete="off" name="' . esc_attr( deskbell_field_name( 'identity_secret' ) ) . '" value="" placeholder="' . esc_attr( $set ? __( '(saved; type a new one to replace it)', 'deskbell' ) : '' ) . '">';
	echo '<p class="description">' . esc_html__( 'The identity_secret of your Deskbell server (run deskbell identity there). WordPress signs each logged-in user with it on this server, so they see and answer all their requests from any device; the secret itself never reaches a page. Leave empty to keep the saved one; type - to remove it.', 'deskbell' ) . '</p>';
}
